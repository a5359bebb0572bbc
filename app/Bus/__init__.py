"""The bus: batches and chains in one place.

    PendingBatch.py   the batch builder (`batch([...]).then(...).dispatch()`)
    PendingChain.py   the chain builder (`chain([...]).catch(...).dispatch()`)
    BatchRepository   job_batches: atomic counters that decide which callbacks fire
    BatchSignature    APP_KEY signature over a batch's stored options
    BatchRecorder     worker side: counts members, runs batch callbacks (`manager.batches`)
    ChainRecorder     worker side: queues the next step, runs chain catch (`manager.chains`)
    ChainMonitor      a chain's status, read from the cache store
    Callbacks         check, store, load and call batch/chain callbacks
    Steps             encode jobs that wait inside another payload (chain steps, Job callbacks)
    JobBatch          a stored batch's counters and state (`JobBatch.find`)

The job classes a payload names (BatchableJob, ChainableJob, ChainedBatch) stay in app/Jobs,
whose public paths (`app.Jobs.Batch`, `app.Jobs.Chain`, `app.Models.JobBatch`) re-export these.
The bus depends on app/Queue and on app.Jobs.Job; app/Queue reaches it only through the typed
services the wiring in app/Queue/bootstrap.py sets on the manager.
"""
