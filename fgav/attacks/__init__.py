"""Attacks: Foolbox's own under short names (:mod:`fgav.attacks.foolbox_attacks`), the ones
Foolbox lacks (:mod:`fgav.attacks.stadv`, :mod:`fgav.attacks.sparse`, :mod:`fgav.attacks.apgd`,
:mod:`fgav.attacks.square` and the :mod:`fgav.attacks.reliable` ensemble of the two), and the aiming of any
attack at one part of a model (:mod:`fgav.core.aiming`).

This package imports nothing itself, so aiming an attack never loads every attack.
"""
