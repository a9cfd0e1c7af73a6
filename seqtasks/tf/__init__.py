"""The TensorFlow layer of seqtasks: the numpy core's tasks as tfds datasets and ``tf.data`` pipelines.

- :mod:`seqtasks.tf.builders`: one tfds builder per registered task, a builder config per preset
  (registered as soon as ``tensorflow_datasets`` is imported after ``import seqtasks``).
- :mod:`seqtasks.tf.pipelines`: ``seqtasks.load`` (prepared datasets) and ``seqtasks.stream``
  (fresh batches), as Keras-ready ``(x, y, sample_weight)`` batches.
- :mod:`seqtasks.tf.build_cli`: the ``seqtasks build`` command.
- :mod:`seqtasks.tf.quiet`: TensorFlow imported with its load-time log lines held to
  ``TF_CPP_MIN_LOG_LEVEL`` (the command lines).

Importing this package imports no TensorFlow; its modules do (``quiet`` only when called).
"""
