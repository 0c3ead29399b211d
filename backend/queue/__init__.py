"""The run queue: tasks flow from the web backend to workers, events flow back.

`Broker` is the one interface; `embedded` runs in-process on asyncio queues.
A Kafka implementation can sit behind the same interface: workers and the
event pump never know which one they are on, and every message crosses the
boundary as bytes so nothing unserialisable can sneak in.
"""
