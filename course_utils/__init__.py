"""course_utils: the small helper package of the PyTorch CNN course.

    from course_utils import setup, fit
    device = setup()            # seeds, device, one line about the environment
    history = fit(model, train_loader, val_loader, epochs=5)
"""
from .config import DATA_DIR, FAST, pick
from .data import ImageData, TensorLoader, load_mnist, make_loaders
from .history import History
from .env import setup
from .train import evaluate, fit, load_checkpoint, predict, save_checkpoint

__version__ = "0.1.0"
__all__ = ["DATA_DIR", "FAST", "pick", "ImageData", "TensorLoader", "load_mnist", "make_loaders", "History",
           "setup", "evaluate", "fit", "load_checkpoint", "predict", "save_checkpoint"]
