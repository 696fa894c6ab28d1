"""Train A3lign-DFER with BAP: the script `accelerate launch` runs (the same as `a3lign train`).

    accelerate launch train_bap.py configs/dfew.yaml --data_root /data/DFEW --fold 1 --output_dir runs/dfew-1

Nothing imports this file: the work is `a3lign.cli.train`.
"""

from a3lign.cli.train import main

if __name__ == "__main__":
    main()
