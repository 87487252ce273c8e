"""The search engine: scan -> load -> embed -> store/index -> search.

Nothing in this package imports Qt; the desktop UI and the command line both drive it
through :class:`photosearch_desktop.engine.library.Library`.
"""

import os

# torch and faiss each bring an OpenMP runtime; by default their idle threads spin and starve
# each other (a query once took 2-3 s instead of 0.07 s). Sleeping idle threads cost nothing
# here. OpenMP reads this once when it loads, so it is set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
