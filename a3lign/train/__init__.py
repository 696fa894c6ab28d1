"""Everything a BAP training run needs: its arguments (`arguments`), the one owner of what trains when
(`bap`), one run and its folder (`run`), the frame-embedding cache (`frame_cache`), calibration
(`frame_statistics`), metrics, evaluation, reporting and the demo. Imports the remote code and the data
side; the remote code never imports this package.

Import from the modules, e.g. `from a3lign.train.bap import BAPTrainer`.
"""
