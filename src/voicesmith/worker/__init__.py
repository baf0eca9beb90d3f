"""The worker: Celery tasks that run fine-tunes and dataset analyses, and the sweep that keeps jobs alive.

It sits above the service layer (it claims, beats and settles jobs through service/training.py) and
receives its work from the broker (voicesmith/broker.py) by task name.
"""
