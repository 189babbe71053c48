"""Independent reader of finsentry's Confluent-framed output topics (test oracle).

Reads a topic from the beginning with Confluent's own Python client (confluent-kafka) and its
AvroDeserializer, which resolves each record's schema id against the schema registry, and prints one
JSON line per record: {"key", "schema_id", "value"}. Used by test/integration/schema-registry.test.ts to
show that a non-finsentry consumer reads the enriched and alerts topics written with registered ids.

usage: registry_reader.py BROKERS REGISTRY_URL TOPIC COUNT [TIMEOUT_S]
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main() -> int:
    brokers, registry_url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    timeout_s = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"registry-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    read = 0
    deadline = time.monotonic() + timeout_s
    try:
        while read < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(str(msg.error()))
            raw = msg.value()
            value = deserialize(raw, SerializationContext(topic, MessageField.VALUE))
            key = msg.key().decode("utf-8") if msg.key() is not None else None
            line = {"key": key, "schema_id": int.from_bytes(raw[1:5], "big"), "value": value}
            print(json.dumps(line, default=str), flush=True)
            read += 1
    finally:
        consumer.close()
    return 0 if read >= count else 1


if __name__ == "__main__":
    sys.exit(main())
