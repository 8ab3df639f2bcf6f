"""Run on its own (`pytest tests/kernel`), the kernel tests register their
marker here; tests/integration/conftest.py registers it for whole runs."""


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel: boots the qemu guest")
