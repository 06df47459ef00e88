"""A stand-in for Mazur's own script (mattm/simple-neural-network), written for this benchmark.

Not a copy: this re-creates that script's structure and per-iteration work (compared with the script at
mattm/simple-neural-network@d7b7f47, neural-network.py): a class per network, layer and neuron, plain
Python floats; `train` makes one forward pass and updates the weights through index loops over the
layers' neuron lists (the hidden deltas from the old output weights; the shared biases stay fixed); after
every iteration `calculate_total_error` makes a second forward pass for the error, ½(t − out)² summed over
the outputs, and one line `i, round(error, 9)` is printed: 10,000 iterations of the 2-2-2 network on one
sample. Its 10,000 lines are the same as the script's, byte for byte. It imports `math` and `random`, as
the script does (and `sys` for its argument). benchmarks/bench_startup.py runs it as the baseline of
`bptrace train mazur --epochs 10000`.

    python benchmarks/baselines/mazur_script.py [iterations]
"""

import math
import random  # noqa: F401 - Mazur's script imports it (random initial weights; unused when they are given)
import sys


class Neuron:
    def __init__(self, bias):
        self.bias = bias
        self.weights = []

    def calculate_output(self, inputs):
        self.inputs = inputs
        self.output = self.squash(self.calculate_total_net_input())
        return self.output

    def calculate_total_net_input(self):
        total = 0
        for i in range(len(self.inputs)):
            total += self.inputs[i] * self.weights[i]
        return total + self.bias

    def squash(self, total_net_input):
        return 1 / (1 + math.exp(-total_net_input))

    def calculate_pd_error_wrt_total_net_input(self, target_output):
        return self.calculate_pd_error_wrt_output(target_output) * self.calculate_pd_total_net_input_wrt_input()

    def calculate_error(self, target_output):
        return 0.5 * (target_output - self.output) ** 2

    def calculate_pd_error_wrt_output(self, target_output):
        return -(target_output - self.output)

    def calculate_pd_total_net_input_wrt_input(self):
        return self.output * (1 - self.output)

    def calculate_pd_total_net_input_wrt_weight(self, index):
        return self.inputs[index]


class NeuronLayer:
    def __init__(self, num_neurons, bias):
        self.bias = bias
        self.neurons = [Neuron(self.bias) for _ in range(num_neurons)]

    def feed_forward(self, inputs):
        outputs = []
        for neuron in self.neurons:
            outputs.append(neuron.calculate_output(inputs))
        return outputs


class NeuralNetwork:
    LEARNING_RATE = 0.5

    def __init__(self, num_inputs, hidden_weights, hidden_bias, output_weights, output_bias, num_hidden, num_outputs):
        self.num_inputs = num_inputs
        self.hidden_layer = NeuronLayer(num_hidden, hidden_bias)
        self.output_layer = NeuronLayer(num_outputs, output_bias)
        k = 0
        for h in range(num_hidden):
            for _ in range(num_inputs):
                self.hidden_layer.neurons[h].weights.append(hidden_weights[k])
                k += 1
        k = 0
        for o in range(num_outputs):
            for _ in range(num_hidden):
                self.output_layer.neurons[o].weights.append(output_weights[k])
                k += 1

    def feed_forward(self, inputs):
        return self.output_layer.feed_forward(self.hidden_layer.feed_forward(inputs))

    def train(self, training_inputs, training_outputs):
        # as in Mazur's script: index loops over the layers' neuron lists, lists of deltas filled in place
        self.feed_forward(training_inputs)
        out_deltas = [0] * len(self.output_layer.neurons)
        for o in range(len(self.output_layer.neurons)):
            out_deltas[o] = self.output_layer.neurons[o].calculate_pd_error_wrt_total_net_input(training_outputs[o])
        hidden_deltas = [0] * len(self.hidden_layer.neurons)
        for h in range(len(self.hidden_layer.neurons)):
            d_error_wrt_output = 0
            for o in range(len(self.output_layer.neurons)):
                d_error_wrt_output += out_deltas[o] * self.output_layer.neurons[o].weights[h]
            hidden = self.hidden_layer.neurons[h]
            hidden_deltas[h] = d_error_wrt_output * hidden.calculate_pd_total_net_input_wrt_input()
        for o in range(len(self.output_layer.neurons)):
            for w in range(len(self.output_layer.neurons[o].weights)):
                gradient = out_deltas[o] * self.output_layer.neurons[o].calculate_pd_total_net_input_wrt_weight(w)
                self.output_layer.neurons[o].weights[w] -= self.LEARNING_RATE * gradient
        for h in range(len(self.hidden_layer.neurons)):
            for w in range(len(self.hidden_layer.neurons[h].weights)):
                gradient = hidden_deltas[h] * self.hidden_layer.neurons[h].calculate_pd_total_net_input_wrt_weight(w)
                self.hidden_layer.neurons[h].weights[w] -= self.LEARNING_RATE * gradient

    def calculate_total_error(self, training_sets):
        total_error = 0
        for t in range(len(training_sets)):
            training_inputs, training_outputs = training_sets[t]
            self.feed_forward(training_inputs)
            for o in range(len(training_outputs)):
                total_error += self.output_layer.neurons[o].calculate_error(training_outputs[o])
        return total_error


def main(iterations):
    nn = NeuralNetwork(2, [0.15, 0.2, 0.25, 0.3], 0.35, [0.4, 0.45, 0.5, 0.55], 0.6, 2, 2)
    for i in range(iterations):
        nn.train([0.05, 0.1], [0.01, 0.99])
        print(i, round(nn.calculate_total_error([[[0.05, 0.1], [0.01, 0.99]]]), 9))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
