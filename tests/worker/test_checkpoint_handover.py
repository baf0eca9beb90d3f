"""A fine-tune killed on one machine resumes from its checkpoint on another (issue 16).

Two `voicesmith worker` processes with separate data directories (two machines: nothing on disk in common)
share a database, Redis as the broker and an S3 bucket (moto's real server) as the blob store. Worker A runs
the job (the fake trainer of slow_pipeline.py, which checkpoints each step in its workdir) and is SIGKILLed;
worker B claims it after the heartbeat timeout, gets the workdir from the bucket and finishes from A's checkpoint.
"""

from __future__ import annotations

import json
import os
import signal

import psutil
from tests.worker.jobs_support import HEARTBEAT_TIMEOUT_S, make_jobs_env, wait_for

from voicesmith.service import background


def test_a_job_killed_on_one_machine_resumes_on_another(tmp_path, redis_server_url, s3_server):
    bucket = s3_server.new_bucket()
    s3 = s3_server.client()
    settings = {"VOICESMITH_BROKER_URL": redis_server_url,
                "VOICESMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
                "VOICESMITH_BLOB_URL": f"s3://{bucket}/vs", "VOICESMITH_CHECKPOINT_SYNC_S": "0.5", **s3_server.env}
    with make_jobs_env(tmp_path, **settings) as jobs:
        ft_id = jobs.create_fine_tune(steps=40, step_s=0.25)  # its dataset file goes to the bucket
        assert s3.list_objects_v2(Bucket=bucket, Prefix="vs/datasets/")["KeyCount"] == 1
        worker_a = jobs.start_worker()
        background.enqueue_fine_tune(ft_id)

        def stored_step() -> int:
            try:
                body = s3.get_object(Bucket=bucket, Key=f"vs/checkpoints/{ft_id}/files/checkpoint.json")["Body"]
            except s3.exceptions.NoSuchKey:
                return 0
            return json.loads(body.read())["step"]

        wait_for(lambda: stored_step() >= 8, 120, "worker A's checkpoint in the bucket", interval=0.2)
        tree = [psutil.Process(worker_a.pid), *psutil.Process(worker_a.pid).children(recursive=True)]
        os.killpg(worker_a.pid, signal.SIGKILL)  # the machine went away
        psutil.wait_procs(tree, timeout=10)
        at_kill = stored_step()

        machine_b = tmp_path / "machine-b"
        jobs.start_worker(extra_env={"VOICESMITH_DATA": str(machine_b)})
        row = jobs.wait_status(ft_id, ("failed", "completed"), 90 + 4 * HEARTBEAT_TIMEOUT_S)
        # B worked in its own data directory; the job's end removes its workdir and the bucket's copy (just after
        # the end is recorded, which is what wait_status saw).
        wait_for(lambda: not (machine_b / "work" / ft_id).exists(), 30, "B's workdir to be removed")
        wait_for(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"vs/checkpoints/{ft_id}/")["KeyCount"] == 0, 30,
                 "the stored checkpoint to be deleted")

    assert (row["status"], row["error_code"], row["attempts"]) == ("failed", "test_pipeline", 2)
    first, second = row["report"]["runs"]
    assert first["from_step"] == 0
    assert second["pid"] != first["pid"] and at_kill <= second["from_step"] < 40  # from A's checkpoint, not zero
    assert row["worker_id"].startswith("fine_tune-")
    starts = jobs.pipeline_starts(ft_id)
    assert len(starts) == 2
