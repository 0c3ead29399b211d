"""Reflex state: one flat substate per page or feature, all inheriting rx.State."""
