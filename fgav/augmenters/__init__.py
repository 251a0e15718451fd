"""Augmenters: the identity (:mod:`fgav.augmenters.none`) and the wrapping of any Foolbox
attack on an augmented input (:mod:`fgav.core.wrapping`). SFA is in :mod:`fgav.sfa`.

This package imports nothing itself: the base class :class:`fgav.Augmenter` imports the
wrapping, so importing the identity never loads SFA.
"""
