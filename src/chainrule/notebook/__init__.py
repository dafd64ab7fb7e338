"""The drawing pad and the backward view inside Jupyter (``pip install 'chainrule[notebook]'``).

    from chainrule.digits import load_digit_model
    from chainrule.notebook import DrawPad, BackwardView
    pad = DrawPad(load_digit_model()); pad              # draw; pad.image, pad.strokes follow
    view = BackwardView(pad.model); view.follow(pad); view

The pad is the drawing page's own (``app/static/pad.js``); it talks to the kernel over the widget's
channel, never to the drawing server. No mathematics here: the image is
``preprocessing.digit_from_strokes``, the prediction the network's, the backward view's numbers
``chainrule.inspection``'s.
"""

from .backward import BackwardView
from .drawpad import DrawPad

__all__ = ["BackwardView", "DrawPad"]
