"""The seed examples, each a module with ``main(out, seed)``; run them with ``chainrule example NAME``."""

EXAMPLES = {
    "mat1110": "MAT1110's 10-layer square network and its Matlab script: the bugs and fixes, one gradient step",
    "higham": "Higham & Higham's 2-2-3-2 network classifying 10 points in the unit square",
    "franke": "a regression network fitting the Franke function on the unit square",
}
