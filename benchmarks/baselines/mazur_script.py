"""A stand-in for Mazur's own script (mattm/simple-neural-network), written for this benchmark.

Not a copy: this re-creates that script's structure and cost from its description in "A Step by Step
Backpropagation Example" (Matt Mazur): a class per network, layer and neuron, plain Python floats,
feed_forward / train / calculate_total_error as methods, and one line printed per iteration
(`i, round(total error, 9)`), 10,000 iterations of the 2-2-2 network on one sample. Only `math` is
imported. benchmarks/bench_startup.py runs it as the baseline of `bptrace train mazur --epochs 10000`.

    python benchmarks/baselines/mazur_script.py [iterations]
"""

import math
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
        return [neuron.calculate_output(inputs) for neuron in self.neurons]


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
        self.feed_forward(training_inputs)
        out_deltas = [
            neuron.calculate_pd_error_wrt_total_net_input(training_outputs[o])
            for o, neuron in enumerate(self.output_layer.neurons)
        ]
        hidden_deltas = []
        for h, hidden in enumerate(self.hidden_layer.neurons):
            d_error_wrt_output = 0
            for o, neuron in enumerate(self.output_layer.neurons):
                d_error_wrt_output += out_deltas[o] * neuron.weights[h]
            hidden_deltas.append(d_error_wrt_output * hidden.calculate_pd_total_net_input_wrt_input())
        for o, neuron in enumerate(self.output_layer.neurons):
            for w in range(len(neuron.weights)):
                gradient = out_deltas[o] * neuron.calculate_pd_total_net_input_wrt_weight(w)
                neuron.weights[w] -= self.LEARNING_RATE * gradient
        for h, hidden in enumerate(self.hidden_layer.neurons):
            for w in range(len(hidden.weights)):
                gradient = hidden_deltas[h] * hidden.calculate_pd_total_net_input_wrt_weight(w)
                hidden.weights[w] -= self.LEARNING_RATE * gradient

    def calculate_total_error(self, training_sets):
        total_error = 0
        for training_inputs, training_outputs in training_sets:
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
