"""The worker app the job tests run (VOICESMITH_WORKER_APP=slow_worker): voicesmith's tasks with the
fake trainer of slow_pipeline.py injected."""

from slow_pipeline import run

from voicesmith.worker import tasks

tasks.use_trainer(run)
app = tasks.app
