"""The run queue: tasks flow from the web backend to workers, events flow back.

`base` holds the two sides' interfaces (`RunQueue` for the web backend,
`WorkSource` for workers); `embedded` runs both in-process on asyncio queues,
`kafka` across processes, and `factory` picks one from the settings.  Workers
and the event pump never know which one they are on, and every message crosses
the boundary as bytes so nothing unserialisable can sneak in.
"""
