"""The benchmark suite of puzzlefs-c (bench/run.sh, `make bench`)."""
