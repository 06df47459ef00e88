"""`bptrace quiz`: exercises for the platforms teachers use (Moodle, Canvas, PrairieLearn, paper).

    model.py          the platform-neutral quiz: each variant's numbers, the quantities asked, the right value
                      with the interval the marking rules accept, and the value (and feedback) of each
                      misconception; built from the engine, `bptrace new`'s generator, the key's rules,
                      diagnose's catalogue and explain's derivation
    content.py        what every format shows: the exercise's statement, the picture, the derivation as HTML
    moodle.py         Moodle XML (numerical or cloze questions, a category per exercise's variants)
    qti.py            a QTI 1.2 package for Canvas (a zip)
    prairielearn.py   PrairieLearn question folders whose server.py needs no bptrace
    worksheet.py      printable worksheets and their keys (HTML, and PDF through LaTeX)

Every number any format writes comes from the model, which computes it with bptrace's own engine; the
formats only lay it out (docs/platforms.md).
"""
