"""``chainrule predict [MODEL] IMAGE...``: the digit in each PNG/JPEG image and the ten
probabilities. Images of any size and either polarity go through the drawing program's
preprocessing (``chainrule.preprocessing.digit_from_image``) to MNIST's 28 x 28 convention."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

MAX_PIXELS = 16_000_000  # a 12-megapixel phone photo fits; decoding more would take gigabytes
WIDE_MODES = ("I;16", "I;16L", "I;16B", "I", "F")  # 16-bit, 32-bit and float grey: convert("L") would clip them


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="recognise the digit in PNG/JPEG images",
                       usage="chainrule predict [-h] [--model PATH] [MODEL] IMAGE [IMAGE ...]",
                       description="Print the digit and the class probabilities for each image. The model "
                       "(a .npz file, first) may be omitted: the bundled model is used. "
                       "Example: chainrule predict seven.png  or  chainrule predict model.npz a.png b.jpg")
    p.add_argument("paths", nargs="+", type=Path, metavar="[MODEL] IMAGE", help="an optional model file, then images")
    p.add_argument("--model", type=Path, default=None, metavar="PATH", help="model file (default: the bundled model)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..digits import class_names, load_digit_model

    model, images = args.model, list(args.paths)
    if images[0].suffix == ".npz":
        if model is not None:
            raise ValueError("give the model either first or as --model, not both")
        model = images.pop(0)
    if not images:
        raise ValueError("no image given: chainrule predict [MODEL] IMAGE...")
    net = load_digit_model(model)
    classes = class_names(net)
    digits = np.stack([read_digit(path) for path in images])
    probabilities = net.predict_proba(digits)
    width = max(5, *map(len, map(str, images)))
    print(f"{'image':<{width}}  class  " + " ".join(f"{c[:5]:>5}" for c in classes))
    for path, p in zip(images, probabilities):
        print(f"{str(path):<{width}}  {classes[int(p.argmax())][:5]:>5}  " + " ".join(f"{q:5.3f}" for q in p))
    return 0


def read_digit(path: Path) -> np.ndarray:
    """The image at ``path`` as a greyscale array, preprocessed to a 28 x 28 uint8 MNIST digit. Its
    size is checked (at most MAX_PIXELS) from the header, before anything is decoded; an image without
    ink (blank, one colour, fully transparent) is an error, not a digit."""
    from PIL import Image, UnidentifiedImageError

    from ..preprocessing import digit_from_image

    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ValueError(f"{path} is {width}x{height} pixels, more than the {MAX_PIXELS:,} this reads: "
                                     "crop or shrink it to the digit")
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    rgba = image.convert("RGBA")  # transparent background: lay the drawing on white paper
                    image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
                # digit_from_image scales any range of values to ink, so wide modes pass as they are
                gray = np.asarray(image if image.mode in WIDE_MODES else image.convert("L"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # PIL's own, wider limit
        raise ValueError(f"{path} is too large to decode (more than {MAX_PIXELS:,} pixels): "
                         "crop or shrink it to the digit") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path} is not a readable PNG/JPEG image ({err})") from None
    try:
        digit = digit_from_image(gray)
    except ValueError as err:  # a float TIFF of NaN: name the file among the several given
        raise ValueError(f"{path}: {err}") from None
    if not digit.any():
        raise ValueError(f"no ink found in {path}: it is blank or of one colour, not a drawn digit")
    return digit
