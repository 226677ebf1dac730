"""keras-autograder: grades Keras lesson notebooks."""
__version__ = "0.1.0"
