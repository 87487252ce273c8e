"""The search engine: scan -> load -> embed -> store/index -> search.

Nothing in this package imports Qt; the desktop UI and the command line both drive it
through :class:`photosearch_desktop.engine.library.Library`.
"""

import os

# torch and faiss each bring an OpenMP runtime; by default their idle threads spin for a long
# time and starve each other (a query once took 2-3 s instead of 0.07 s). Threads that sleep at
# once (OMP_WAIT_POLICY=PASSIVE) cure that but make one-image inference ~30 % slower: every
# parallel region wakes them again. A short spin (about half a millisecond) keeps the workers
# warm within one forward pass and lets them sleep between passes. OpenMP reads this once
# when it loads, so it is set before either is imported.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
