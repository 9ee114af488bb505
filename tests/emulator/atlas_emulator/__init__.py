"""A stateful emulator of the MongoDB Atlas Admin API v2 restore-job and snapshot endpoints.

Run it with ``PYTHONPATH=tests/emulator python -m atlas_emulator``; drive it from tests through
:mod:`atlas_emulator.control`. It is a test tool and is not part of the built collection.
"""

__version__ = "1.0.0"
