"""Code every student of the lesson may write without having seen anyone else's.

The comparison subtracts this with the lesson's code and the released notebook (base.py): the
lesson as printed, for every exercise of its episodes; the equivalent forms students reach for
(`Sequential([...])`, `keras.Input`, the functional API, `tf.keras` imports, `input_dim`,
`reshape(-1, 784)`); the usual additions (printing shapes, plotting the history, predicting,
seeding, a confusion matrix); and the usual mistakes (not flattening, sigmoid or linear outputs,
other losses and optimizers, other epochs and batch sizes, training on the test images...).
Two students who both write one of these have not shared anything: it weighs nothing.

Only what many students write independently, or take from the public tutorials every student of
such a lesson finds (TUTORIALS), belongs here; it is code, parsed like theirs
(tests/test_similarity.py parses every snippet). Statements nearly like one of these weigh only
their difference (fingerprint.Novelty), so the list need not hold every spelling.
"""
from __future__ import annotations

#: The lesson as printed: its dense episode (with the printed mistakes), the deeper model and the
#: convolutional episode (DESIGN.md, "The lesson being graded").
LESSON = [
    """\
import numpy as np
fashion = np.load('fashion.npz')
train_data = fashion['train_data']
train_labels = fashion['train_labels']
test_data = fashion['test_data']
test_labels = fashion['test_labels']
train_data_1d = train_data.reshape((train_data.shape[0], -1))
test_data_1d = test_data.reshape((test_data.shape[0], -1))
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_shape=(784,), activation='relu'))
model.add(Dense(10, input_shape=(train_data.shape[-1],), activation='relu'))
model.add(Dense(10, activation='relu'))
model.add(Dense(10, input_shape=(784,), activation='sigmoid'))
model.add(Dense(10, input_shape=(784,), activation='tanh'))
model.add(Dense(10, activation='sigmoid'))
model.add(Dense(10, activation='tanh'))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)
model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)
model.evaluate(test_data_1d, test_labels, batch_size=10)
model.evaluate(test_data, test_labels, batch_size=10)
""",
    """\
from keras.models import Sequential
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
model = Sequential()
model.add(Conv2D(10, kernel_size=3, input_shape=(28, 28, 1), activation='relu'))
model.add(MaxPooling2D(2))
model.add(Conv2D(10, kernel_size=3, activation='relu'))
model.add(MaxPooling2D(2))
model.add(Flatten())
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)
model.evaluate(test_data, test_labels, batch_size=10)
""",
]

SNIPPETS = [
    # Loading, and looking at the data.
    """\
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras
from tensorflow import keras
from keras import layers
import pandas as pd
import random
import os
fashion = np.load('./fashion.npz')
fashion = np.load('data/fashion.npz')
fashion = np.load('fashion.npz', allow_pickle=True)
fashion = np.load('/content/fashion.npz')
fashion = np.load('/content/drive/MyDrive/fashion.npz')
data = np.load('fashion.npz')
train_data = data['train_data']
train_labels = data['train_labels']
test_data = data['test_data']
test_labels = data['test_labels']
train_data, train_labels = fashion['train_data'], fashion['train_labels']
test_data, test_labels = fashion['test_data'], fashion['test_labels']
train_data, train_labels, test_data, test_labels = (fashion['train_data'], fashion['train_labels'],
                                                    fashion['test_data'], fashion['test_labels'])
with np.load('fashion.npz') as fashion:
    train_data = fashion['train_data']
with np.load('fashion.npz') as data:
    train_data, train_labels = data['train_data'], data['train_labels']
    test_data, test_labels = data['test_data'], data['test_labels']
    train_data = data['train_data']
train_data = fashion.f.train_data
train_labels = fashion.f.train_labels
test_data = fashion.f.test_data
test_labels = fashion.f.test_labels
print(fashion.files)
print(list(fashion.keys()))
fashion.files
print(train_data.shape)
print(train_labels.shape)
print(test_data.shape)
print(test_labels.shape)
print(train_data.shape, train_labels.shape)
print(test_data.shape, test_labels.shape)
print(train_data.shape, test_data.shape)
print(train_data.shape, train_labels.shape, test_data.shape, test_labels.shape)
print('train_data shape:', train_data.shape)
print('Training data shape:', train_data.shape)
print('Test data shape:', test_data.shape)
train_data.shape
test_data.shape
train_labels.shape
print(train_data.dtype)
print(train_data.min(), train_data.max())
print(train_labels[0])
print(train_labels[:5])
print(train_labels[:10])
print(train_labels.sum(axis=0))
print(test_labels.sum(axis=0))
print(np.sum(train_labels, axis=0))
print(np.argmax(train_labels, axis=1))
print(np.unique(np.argmax(train_labels, axis=1), return_counts=True))
class_names = ['t-shirt', 'dress', 'shoe']
class_names = ['T-shirt/top', 'Dress', 'Sneaker']
plt.imshow(train_data[0], cmap='gray')
plt.imshow(train_data[0, :, :, 0], cmap='gray')
plt.imshow(train_data[0][:, :, 0], cmap='gray')
plt.imshow(train_data[0].reshape(28, 28), cmap='gray')
plt.imshow(train_data[0].squeeze(), cmap='gray')
plt.imshow(np.squeeze(train_data[0]), cmap='gray')
plt.imshow(train_data[0], cmap='binary')
plt.imshow(train_data[i], cmap='gray')
plt.title(class_names[np.argmax(train_labels[0])])
plt.title(train_labels[0])
plt.title(class_names[train_labels[i].argmax()])
plt.axis('off')
plt.colorbar()
plt.show()
plt.figure()
plt.figure(figsize=(10, 10))
plt.subplot(5, 5, i + 1)
plt.xticks([])
plt.yticks([])
plt.tight_layout()
for i in range(5):
    plt.subplot(1, 5, i + 1)
for i in range(25):
    pass
for i in range(10):
    print(train_labels[i])
fig, axes = plt.subplots(1, 5, figsize=(10, 2))
for ax, image, label in zip(axes, train_data, train_labels):
    ax.imshow(image[:, :, 0], cmap='gray')
    ax.set_title(class_names[label.argmax()])
    ax.axis('off')
%matplotlib inline
""",
    # Flattening, every way.
    """\
train_data_1d = train_data.reshape(600, 784)
test_data_1d = test_data.reshape(100, 784)
train_data_1d = train_data.reshape((600, 784))
test_data_1d = test_data.reshape((100, 784))
train_data_1d = train_data.reshape(-1, 784)
test_data_1d = test_data.reshape(-1, 784)
train_data_1d = train_data.reshape((-1, 784))
test_data_1d = test_data.reshape((-1, 784))
train_data_1d = train_data.reshape(train_data.shape[0], -1)
test_data_1d = test_data.reshape(test_data.shape[0], -1)
train_data_1d = train_data.reshape(train_data.shape[0], 784)
test_data_1d = test_data.reshape(test_data.shape[0], 784)
train_data_1d = train_data.reshape((train_data.shape[0], 784))
test_data_1d = test_data.reshape((test_data.shape[0], 784))
train_data_1d = train_data.reshape(len(train_data), -1)
test_data_1d = test_data.reshape(len(test_data), -1)
train_data_1d = train_data.reshape(len(train_data), 784)
test_data_1d = test_data.reshape(len(test_data), 784)
train_data_1d = train_data.reshape(600, 28 * 28)
test_data_1d = test_data.reshape(100, 28 * 28)
train_data_1d = train_data.reshape((600, 28 * 28 * 1))
test_data_1d = test_data.reshape((100, 28 * 28 * 1))
train_data_1d = train_data.reshape(train_data.shape[0], 28 * 28)
test_data_1d = test_data.reshape(test_data.shape[0], 28 * 28)
train_data_1d = train_data.reshape(-1, 28 * 28)
test_data_1d = test_data.reshape(-1, 28 * 28)
train_data_1d = train_data.reshape((train_data.shape[0], np.prod(train_data.shape[1:])))
test_data_1d = test_data.reshape((test_data.shape[0], np.prod(test_data.shape[1:])))
train_data_1d = np.reshape(train_data, (600, 28 * 28))
test_data_1d = np.reshape(test_data, (100, 28 * 28))
train_data_1d = np.reshape(train_data, (600, 784))
test_data_1d = np.reshape(test_data, (100, 784))
train_data_1d = np.reshape(train_data, (train_data.shape[0], -1))
test_data_1d = np.reshape(test_data, (test_data.shape[0], -1))
train_data_1d = np.reshape(train_data, (-1, 784))
test_data_1d = np.reshape(test_data, (-1, 784))
train_data_1d = train_data.flatten()
test_data_1d = test_data.flatten()
train_data_1d = train_data.reshape(600, 784) / 255.0
test_data_1d = test_data.reshape(100, 784) / 255.0
train_data_1d = train_data_1d / 255.0
test_data_1d = test_data_1d / 255.0
train_data_1d = train_data_1d.astype('float32')
test_data_1d = test_data_1d.astype('float32')
train_data = train_data / 255.0
test_data = test_data / 255.0
train_data_1d = train_data.reshape((train_data.shape[0], -1)).astype('float32')
test_data_1d = test_data.reshape((test_data.shape[0], -1)).astype('float32')
print(train_data_1d.shape)
print(test_data_1d.shape)
print(train_data_1d.shape, test_data_1d.shape)
print('train_data_1d:', train_data_1d.shape)
print('Flattened training data shape:', train_data_1d.shape)
train_data_1d.shape
test_data_1d.shape
""",
    # Building the network, every way.
    """\
from keras.models import Sequential
from keras.layers import Dense
from keras.layers import Dense, Input
from keras.layers import Dense, Flatten
from keras.layers import Dense, Dropout
from keras.layers import Input, Dense
from keras import Input, Model
from keras import Sequential
from keras.models import Model
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
from keras.layers import Conv2D, MaxPool2D, Flatten, Dense
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense
from tensorflow.keras.layers import Dense, Input
from tensorflow.keras import layers
from tensorflow.keras import Sequential
from tensorflow.keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
from keras.utils import to_categorical
from tensorflow.keras.utils import to_categorical
model = Sequential()
model = keras.Sequential()
model = keras.models.Sequential()
model = tf.keras.Sequential()
model = tf.keras.models.Sequential()
model.add(Dense(10, input_dim=784, activation='relu'))
model.add(Dense(10, activation='relu', input_dim=784))
model.add(Dense(units=10, input_shape=(784,), activation='relu'))
model.add(Dense(units=10, activation='relu', input_dim=784))
model.add(Dense(units=3, activation='softmax'))
model.add(Dense(10, input_shape=(train_data_1d.shape[1],), activation='relu'))
model.add(Dense(10, input_shape=(train_data_1d.shape[-1],), activation='relu'))
model.add(Dense(10, input_shape=(784), activation='relu'))
model.add(Dense(10, input_shape=784, activation='relu'))
model.add(Dense(10, input_shape=(28, 28, 1), activation='relu'))
model.add(Dense(10, input_shape=(28, 28), activation='relu'))
model.add(Dense(10, input_shape=(1,), activation='relu'))
model.add(Dense(10, input_shape=(train_data.shape[1:]), activation='relu'))
model.add(Dense(10, 'relu', input_shape=(784,)))
model.add(Dense(3, 'softmax'))
model.add(Dense(10, activation='relu'))
model.add(Dense(10))
model.add(Dense(3))
model.add(Dense(3, activation='sigmoid'))
model.add(Dense(10, activation='softmax'))
model.add(Dense(10, activation='sigmoid'))
model.add(Dense(3, activation='relu'))
model.add(Dense(32, activation='relu'))
model.add(Dense(64, activation='relu'))
model.add(Dense(128, activation='relu'))
model.add(Dropout(0.2))
model.add(Dropout(0.5))
model.add(Input(shape=(784,)))
model.add(keras.Input(shape=(784,)))
model.add(Flatten())
model.add(Flatten(input_shape=(28, 28, 1)))
model.add(Flatten(input_shape=(28, 28)))
model.add(keras.layers.Dense(10, activation='relu', input_shape=(784,)))
model.add(keras.layers.Dense(3, activation='softmax'))
model.add(layers.Dense(10, activation='relu', input_shape=(784,)))
model.add(layers.Dense(3, activation='softmax'))
model.add(tf.keras.layers.Dense(10, input_shape=(784,), activation='relu'))
model.add(tf.keras.layers.Dense(10, input_shape=(784,), activation=tf.nn.relu))
model.add(tf.keras.layers.Dense(3, activation='softmax'))
model.add(tf.keras.layers.Dense(3, activation=tf.nn.softmax))
model = Sequential([Dense(10, activation='relu', input_shape=(784,)), Dense(3, activation='softmax')])
model = Sequential([Dense(10, input_dim=784, activation='relu'), Dense(3, activation='softmax')])
model = Sequential([Input(shape=(784,)), Dense(10, activation='relu'), Dense(3, activation='softmax')])
model = Sequential([Dense(10, activation='relu', input_shape=(784,)), Dense(10, activation='relu'), Dense(3,
    activation='softmax')])
model = Sequential([Flatten(input_shape=(28, 28, 1)), Dense(10, activation='relu'), Dense(3, activation='softmax')])
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10, activation='relu'), layers.Dense(3,
    activation='softmax')])
model = keras.Sequential([layers.Dense(10, activation='relu', input_shape=(784,)), layers.Dense(3,
    activation='softmax')])
model = keras.Sequential([keras.layers.Dense(10, activation='relu', input_shape=(784,)), keras.layers.Dense(3,
    activation='softmax')])
model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28, 1)), keras.layers.Dense(10,
    activation='relu'), keras.layers.Dense(3, activation='softmax')])
model = tf.keras.Sequential([tf.keras.layers.Dense(10, activation='relu', input_shape=(784,)),
    tf.keras.layers.Dense(3, activation='softmax')])
model = tf.keras.models.Sequential([tf.keras.layers.Dense(10, activation='relu', input_shape=(784,)),
    tf.keras.layers.Dense(3, activation='softmax')])
inputs = Input(shape=(784,))
inputs = keras.Input(shape=(784,))
x = Dense(10, activation='relu')(inputs)
hidden = Dense(10, activation='relu')(inputs)
outputs = Dense(3, activation='softmax')(x)
outputs = Dense(3, activation='softmax')(hidden)
x = layers.Dense(10, activation='relu')(inputs)
outputs = layers.Dense(3, activation='softmax')(x)
model = Model(inputs=inputs, outputs=outputs)
model = Model(inputs, outputs)
model = keras.Model(inputs=inputs, outputs=outputs)
model = keras.Model(inputs, outputs)
def build_model():
    model = Sequential()
    model.add(Dense(10, input_shape=(784,), activation='relu'))
    model.add(Dense(3, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    return model
model = build_model()
model.summary()
print(model.summary())
model.build()
model.output_shape
model.input_shape
print(model.input_shape, model.output_shape)
print(model.layers)
for layer in model.layers:
    print(layer.name, layer.output.shape)
    print(layer.name, layer.output_shape)
    print(layer.get_config())
weights, biases = model.layers[0].get_weights()
print(weights.shape, biases.shape)
from keras.layers import Dense, Activation, Softmax, Input
from keras.layers import Dense, Activation
model.add(Activation('relu'))
model.add(Activation('softmax'))
model = Sequential([Input((784,)), Dense(10), Activation('relu'), Dense(3), Softmax()])
model = Sequential([Input(shape=(784,)), Dense(10), Activation('relu'), Dense(3), Activation('softmax')])
model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(784,)), tf.keras.layers.Dense(10,
    'relu'), tf.keras.layers.Dense(3, 'softmax')])
model = keras.Sequential([keras.layers.Dense(10, activation='relu', input_shape=(784,)),
    keras.layers.Dense(units=3, activation='softmax')])
model = keras.Sequential([keras.layers.Dense(10, activation='relu', input_dim=784), keras.layers.Dense(3,
    activation='softmax')])
model = keras.models.Sequential([keras.layers.Dense(10, 'relu', input_shape=(784,)), keras.layers.Dense(3,
    'softmax')])
model.add(Conv2D(10, (3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(Conv2D(10, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1)))
model.add(Conv2D(10, 3, activation='relu', input_shape=(28, 28, 1)))
model.add(Conv2D(10, kernel_size=3, activation='relu'))
model.add(Conv2D(10, (3, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(MaxPooling2D((2, 2)))
model.add(MaxPool2D(2))
model.add(MaxPool2D(pool_size=(2, 2)))
""",
    # Compiling, training and evaluating, with the usual variants and mistakes.
    """\
from keras.optimizers import Adam
from tensorflow.keras.optimizers import Adam
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['acc'])
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['categorical_accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='adam')
model.compile(loss='categorical_crossentropy', optimizer=Adam(), metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer=Adam(learning_rate=0.001), metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(), metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(learning_rate=0.001),
    metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer=tf.keras.optimizers.Adam(), metrics=['accuracy'])
model.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer='adam', metrics=['accuracy'])
model.compile(loss=tf.keras.losses.CategoricalCrossentropy(), optimizer='adam', metrics=['accuracy'])
model.compile(loss=keras.losses.CategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=0.001), metrics=[keras.metrics.CategoricalAccuracy()])
model.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer=keras.optimizers.Adam(), metrics=['accuracy'])
model.compile(loss=tf.keras.losses.CategoricalCrossentropy(), optimizer=tf.keras.optimizers.Adam(),
    metrics=[tf.keras.metrics.CategoricalAccuracy()])
model.compile(loss=tf.keras.losses.categorical_crossentropy, optimizer=tf.keras.optimizers.Adam(),
    metrics=[tf.keras.metrics.categorical_accuracy])
model.compile(loss=keras.losses.categorical_crossentropy, optimizer='adam',
    metrics=[keras.metrics.categorical_accuracy])
model.compile('adam', 'categorical_crossentropy', ['accuracy'])
model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
model.compile(loss='mse', optimizer='adam', metrics=['accuracy'])
model.compile(loss='mean_squared_error', optimizer='adam', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='adagrad', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='nadam', metrics=['accuracy'])
model.compile(loss='mae', optimizer='adam', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy', 'loss'])
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['mse'])
model.compile(loss='categorical_crossentropy', optimizer='SGD', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer='Adam', metrics=['accuracy'])
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)
hist = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, verbose=1)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, verbose=2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, verbose=0)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, shuffle=True)
history = model.fit(train_data_1d, train_labels, 10, 10, validation_split=0.2)
history = model.fit(x=train_data_1d, y=train_labels, epochs=10, batch_size=10, validation_split=0.2)
history = model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10)
history = model.fit(train_data_1d, train_labels, epochs=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10)
history = model.fit(train_data_1d, train_labels)
history = model.fit(train_data_1d, train_labels, epochs=5, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=20, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=50, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=100, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=32, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=16, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=64, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=100, validation_split=0.2)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.1)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.3)
history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_data=(test_data_1d,
    test_labels))
history = model.fit(test_data_1d, test_labels, epochs=10, batch_size=10, validation_split=0.2)
history = model.fit(train_data_1d, test_labels, epochs=10, batch_size=10, validation_split=0.2)
history = model.fit(x=train_data_1d, y=train_labels, batch_size=10, epochs=10, validation_split=0.2, verbose=0)
history = model.fit(train_data_1d[:480], train_labels[:480], epochs=10, batch_size=10,
    validation_data=(train_data_1d[480:], train_labels[480:]))
model.fit(train_data_1d, train_labels, epochs=5, validation_split=0.2)
model.fit(train_data_1d, train_labels, epochs=5)
model.evaluate(test_data_1d, test_labels)
test_loss, test_acc = model.evaluate(x=test_data_1d, y=test_labels, batch_size=10, verbose=0)
loss, acc = model.evaluate(x=test_data_1d, y=test_labels, batch_size=10, verbose=0)
loss, acc = model.evaluate(test_data_1d, test_labels, batch_size=10, verbose=0)
print(acc)
model.evaluate(test_data_1d, test_labels, verbose=0)
model.evaluate(test_data_1d, test_labels, batch_size=10, verbose=0)
model.evaluate(test_data_1d, test_labels, batch_size=10, verbose=2)
model.evaluate(train_data_1d, train_labels, batch_size=10)
model.evaluate(x=test_data_1d, y=test_labels, batch_size=10)
test_loss, test_accuracy = model.evaluate(test_data_1d, test_labels, batch_size=10)
test_loss, test_acc = model.evaluate(test_data_1d, test_labels, batch_size=10)
test_loss, test_acc = model.evaluate(test_data_1d, test_labels)
loss, accuracy = model.evaluate(test_data_1d, test_labels, batch_size=10)
loss, acc = model.evaluate(test_data_1d, test_labels, batch_size=10)
score = model.evaluate(test_data_1d, test_labels, batch_size=10)
scores = model.evaluate(test_data_1d, test_labels, batch_size=10)
results = model.evaluate(test_data_1d, test_labels, batch_size=10)
print(score)
print(results)
print(score[1])
print('Test loss:', score[0])
print('Test accuracy:', score[1])
print('Test accuracy:', test_accuracy)
print('Test accuracy:', test_acc)
print('test accuracy:', test_acc)
print('Test loss:', test_loss)
print('Accuracy:', accuracy)
print('Accuracy:', acc)
print(test_loss, test_accuracy)
print(test_acc)
print(test_accuracy)
print(f'Test accuracy: {test_accuracy}')
print(f'Test accuracy: {test_accuracy:.3f}')
print(f'Test accuracy: {test_acc:.2f}')
print(f'Test accuracy: {test_acc:.4f}')
print(f'Test loss: {test_loss:.4f}')
print('Test accuracy: %.3f' % test_acc)
print('Test accuracy: {:.3f}'.format(test_acc))
""",
    # What students add: predictions, plots of the history, seeds, a confusion matrix, saving.
    """\
predictions = model.predict(test_data_1d)
predictions = model.predict(test_data_1d, verbose=0)
predictions = model.predict(test_data_1d[:5])
predicted = np.argmax(predictions, axis=1)
predicted_classes = np.argmax(predictions, axis=1)
predicted = predictions.argmax(axis=1)
true = np.argmax(test_labels, axis=1)
true_classes = np.argmax(test_labels, axis=1)
true = test_labels.argmax(axis=1)
accuracy = np.mean(predicted == true)
accuracy = (predicted == true).mean()
print((predictions.argmax(axis=1) == test_labels.argmax(axis=1)).mean())
print(np.mean(np.argmax(predictions, axis=1) == np.argmax(test_labels, axis=1)))
print(predictions[0])
print(predictions[:5])
print(np.argmax(predictions[0]))
print(class_names[np.argmax(predictions[0])])
print(np.round(predictions[:5], 2))
from sklearn.metrics import confusion_matrix
from sklearn.metrics import classification_report
from sklearn.metrics import confusion_matrix, classification_report
print(confusion_matrix(true, predicted))
print(classification_report(true, predicted))
print(classification_report(true, predicted, target_names=class_names))
cm = confusion_matrix(true, predicted)
predicted = np.argmax(model.predict(test_data_1d), axis=1)
predicted = model.predict(test_data_1d).argmax(axis=1)
print(classification_report(true, predicted, target_names=['t-shirt', 'dress', 'shoe']))
import seaborn as sns
from sklearn.metrics import ConfusionMatrixDisplay
sns.heatmap(cm, annot=True, fmt='d')
sns.heatmap(cm, annot=True, fmt='d', xticklabels=class_names, yticklabels=class_names)
sns.heatmap(cm, annot=True, fmt='d', cmap='Blues', xticklabels=class_names, yticklabels=class_names)
ConfusionMatrixDisplay(cm, display_labels=class_names).plot()
ConfusionMatrixDisplay.from_predictions(true, predicted, display_labels=class_names)
plt.xlabel('Predicted')
plt.ylabel('True')
plt.ylabel('Actual')
plt.plot(history.history['loss'])
plt.plot(history.history['val_loss'])
plt.plot(history.history['accuracy'])
plt.plot(history.history['val_accuracy'])
plt.plot(history.history['loss'], label='loss')
plt.plot(history.history['val_loss'], label='val_loss')
plt.plot(history.history['accuracy'], label='accuracy')
plt.plot(history.history['val_accuracy'], label='val_accuracy')
plt.plot(history.history['loss'], label='train')
plt.plot(history.history['val_loss'], label='validation')
plt.plot(history.history['accuracy'], label='train')
plt.plot(history.history['val_accuracy'], label='validation')
plt.plot(history.history['loss'], label='training loss')
plt.plot(history.history['val_loss'], label='validation loss')
plt.plot(history.history['accuracy'], label='training accuracy')
plt.plot(history.history['val_accuracy'], label='validation accuracy')
plt.xlabel('epoch')
plt.xlabel('Epoch')
plt.ylabel('loss')
plt.ylabel('Loss')
plt.ylabel('accuracy')
plt.ylabel('Accuracy')
plt.title('Loss')
plt.title('Accuracy')
plt.title('Training and validation loss')
plt.title('Training and validation accuracy')
plt.title('model accuracy')
plt.title('model loss')
plt.legend()
plt.legend(['train', 'validation'])
plt.legend(['train', 'val'])
plt.figure(figsize=(8, 4))
plt.figure(figsize=(12, 4))
plt.subplot(1, 2, 1)
plt.subplot(1, 2, 2)
pd.DataFrame(history.history).plot()
pd.DataFrame(history.history).plot(figsize=(8, 5))
print(history.history.keys())
print(history.history)
history.history
print(history.history['val_accuracy'][-1])
print(history.history['accuracy'][-1])
np.random.seed(0)
np.random.seed(42)
tf.random.set_seed(0)
tf.random.set_seed(42)
keras.utils.set_random_seed(0)
keras.utils.set_random_seed(42)
tf.keras.utils.set_random_seed(42)
random.seed(0)
random.seed(42)
train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)
train_labels = to_categorical(train_labels.argmax(axis=1), 3)
test_labels = to_categorical(test_labels.argmax(axis=1), 3)
model.save('model.keras')
model.save('model.h5')
model.save('my_model.keras')
model.save('my_model.h5')
print(tf.__version__)
print(keras.__version__)
from google.colab import drive
drive.mount('/content/drive')
from google.colab import files
uploaded = files.upload()
%matplotlib inline
!pip install tensorflow
!pip install keras
!pip install numpy matplotlib
!ls
%%time
""",
]

#: The public tutorials students of a Keras lesson on Fashion-MNIST borrow from: TensorFlow's
#: "Basic classification: classify images of clothing" and Keras' "Simple MNIST convnet".
TUTORIALS = [
    """\
fashion_mnist = tf.keras.datasets.fashion_mnist
(train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
               'Ankle boot']
train_images.shape
len(train_labels)
plt.figure()
plt.imshow(train_images[0])
plt.colorbar()
plt.grid(False)
plt.show()
train_images = train_images / 255.0
test_images = test_images / 255.0
plt.figure(figsize=(10, 10))
for i in range(25):
    plt.subplot(5, 5, i + 1)
    plt.xticks([])
    plt.yticks([])
    plt.grid(False)
    plt.imshow(train_images[i], cmap=plt.cm.binary)
    plt.xlabel(class_names[train_labels[i]])
plt.show()
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                             tf.keras.layers.Dense(128, activation='relu'), tf.keras.layers.Dense(10)])
model.compile(optimizer='adam', loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.fit(train_images, train_labels, epochs=10)
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print('\\nTest accuracy:', test_acc)
probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
predictions = probability_model.predict(test_images)
predictions[0]
np.argmax(predictions[0])
test_labels[0]
def plot_image(i, predictions_array, true_label, img):
    true_label, img = true_label[i], img[i]
    plt.grid(False)
    plt.xticks([])
    plt.yticks([])
    plt.imshow(img, cmap=plt.cm.binary)
    predicted_label = np.argmax(predictions_array)
    if predicted_label == true_label:
        color = 'blue'
    else:
        color = 'red'
    plt.xlabel('{} {:2.0f}% ({})'.format(class_names[predicted_label], 100 * np.max(predictions_array),
                                         class_names[true_label]), color=color)
def plot_value_array(i, predictions_array, true_label):
    true_label = true_label[i]
    plt.grid(False)
    plt.xticks(range(10))
    plt.yticks([])
    thisplot = plt.bar(range(10), predictions_array, color='#777777')
    plt.ylim([0, 1])
    predicted_label = np.argmax(predictions_array)
    thisplot[predicted_label].set_color('red')
    thisplot[true_label].set_color('blue')
i = 0
plt.figure(figsize=(6, 3))
plt.subplot(1, 2, 1)
plot_image(i, predictions[i], test_labels, test_images)
plt.subplot(1, 2, 2)
plot_value_array(i, predictions[i], test_labels)
plt.show()
num_rows = 5
num_cols = 3
num_images = num_rows * num_cols
plt.figure(figsize=(2 * 2 * num_cols, 2 * num_rows))
for i in range(num_images):
    plt.subplot(num_rows, 2 * num_cols, 2 * i + 1)
    plot_image(i, predictions[i], test_labels, test_images)
    plt.subplot(num_rows, 2 * num_cols, 2 * i + 2)
    plot_value_array(i, predictions[i], test_labels)
plt.tight_layout()
img = test_images[1]
img = np.expand_dims(img, 0)
predictions_single = probability_model.predict(img)
plot_value_array(1, predictions_single[0], test_labels)
_ = plt.xticks(range(10), class_names, rotation=45)
plt.plot(history.history['accuracy'], label='accuracy')
plt.plot(history.history['val_accuracy'], label='val_accuracy')
plt.ylim([0.5, 1])
plt.legend(loc='lower right')
""",
    """\
num_classes = 10
input_shape = (28, 28, 1)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.astype('float32') / 255
x_test = x_test.astype('float32') / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print('x_train shape:', x_train.shape)
print(x_train.shape[0], 'train samples')
print(x_test.shape[0], 'test samples')
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)
model = keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(32, kernel_size=(3, 3), activation='relu'),
                          layers.MaxPooling2D(pool_size=(2, 2)),
                          layers.Conv2D(64, kernel_size=(3, 3), activation='relu'),
                          layers.MaxPooling2D(pool_size=(2, 2)), layers.Flatten(), layers.Dropout(0.5),
                          layers.Dense(num_classes, activation='softmax')])
batch_size = 128
epochs = 15
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
""",
]

#: Comments students write on the lesson's steps: the same words in two notebooks say nothing.
COMMENTS = """\
Load the data
Load the dataset
Load the data from the npz file
Look at the data
Check the shapes of the data
Print the shapes of the arrays
Show some of the images
Plot some of the images
Flatten the images
Flatten the images into vectors
Reshape the data
Reshape the images into one dimensional arrays
Build the model
Build the neural network
Create the model
Define the model
Add the hidden layer
Add the output layer
Compile the model
Train the model
Fit the model
Fit the model to the training data
Train the model on the training data
Evaluate the model
Evaluate the model on the test data
Evaluate on the test set
Plot the training history
Plot the loss and accuracy
Make predictions on the test data
YOUR CODE HERE
"""
