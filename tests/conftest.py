import os
import sys

# corpus.py and other test helpers import as plain modules
sys.path.insert(0, os.path.dirname(__file__))
