import os
import sys

# every emitted function is parsed back and compared with the tree it was printed from
os.environ.setdefault("S2S_CHECK_ROUND_TRIP", "1")

# corpus.py and other test helpers import as plain modules
sys.path.insert(0, os.path.dirname(__file__))
