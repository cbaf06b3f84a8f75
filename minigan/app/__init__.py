"""The application behind the ``minigan`` command: one module per sub-command.

:mod:`minigan.cli` parses the command line and calls one ``run_<command>(options)`` here;
everything the command then does (checks, data, training, pictures, files) lives in these
modules, which take a small dataclass of options and know nothing of ``argparse``, so a
script or a notebook can call them too::

    from minigan.app.train import TrainOptions, run_train

    run_train(TrainOptions(model="ring-2d", steps=200, out="runs/ring"))

Read in this order:

- ``common.py``: what every command shares (the one-line :class:`UsageError`, the checks
  that an output can be written, reading a checkpoint of `minigan train`);
- ``train.py``: `minigan train`, top to bottom (options, checks, data, the run, progress,
  evaluation during training, outputs, the 1-D experiments);
- ``sample.py``, ``evaluate.py``, ``summary.py``: the other commands;
- ``export.py``, ``import_.py``: `minigan export --to torch` and `minigan import`, the files around
  the PyTorch bridge of :mod:`minigan.interop.torch`;
- ``lab.py``, ``lab_session.py`` (and the page in ``lab_static/``): `minigan lab`, a GAN training
  live in the browser.

The library they drive is below: :mod:`minigan.gan.run` (resumable runs), :mod:`minigan.data`,
:mod:`minigan.metrics`, :mod:`minigan.viz`.

Read next: ``minigan/app/common.py``.
"""
