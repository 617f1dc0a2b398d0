#!/usr/bin/env python3
"""crm_ingest.py: publish integrator events to the CRM suite over HTTP (CloudEvents) or ZeroMQ.

A small library and a command-line tool, using only Debian 12 packages: python3, python3-protobuf
(3.21), python3-zmq (only for the ZeroMQ transport) and protobuf-compiler (protoc 3.21). The
protobuf classes are generated from proto/crm/v1/*.proto by protoc when the program starts, into a
temporary folder (or into --gen-dir, kept and refreshed when a .proto is newer); generated code is
never committed.

Library use:

    contracts = Contracts()                       # runs protoc, imports crm.v1.*_pb2
    event = contracts.event("order.placed", "ord-778", "/shop/hz-01",
                            contracts.order_placed("SO-778", customer_ref(email="li.wei@example.com"),
                                                   19900, "CNY"))
    with HttpPublisher(contracts, "http://127.0.0.1:8080", key) as http:
        results = publish(http, [event])          # retries transient failures; same id each time
    with ZmqPublisher(contracts, "tcp://127.0.0.1:5570") as zmq_pub:
        results = publish(zmq_pub, [event])       # the same event again: outcome "duplicate"

Exit status of the tool: 0 every event accepted or duplicate; 1 some event rejected, or the whole
request refused (HTTP 4xx); 2 bad usage; 3 the suite did not acknowledge within the retries.
"""

import argparse
import base64
import datetime
import glob
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5570"
DEFAULT_TIMEOUT_S = 10.0          # wait for one acknowledgement (HTTP answer or ZeroMQ result)
DEFAULT_RETRIES = 3               # further attempts after a transient failure
BACKOFF_FIRST_S = 0.5             # first pause between attempts; doubled each time
BACKOFF_MAX_S = 8.0
SPEC_VERSION = "1.0"
MEDIA_STRUCTURED = "application/cloudevents+json"
MEDIA_BATCH = "application/cloudevents-batch+json"
MEDIA_JSON = "application/json"
MEDIA_PROTOBUF = "application/protobuf"
STAMP_NAME = ".crm_proto_stamp"

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

# Event type -> payload message in package crm.v1 (proto/crm/v1/ingest.proto).
PAYLOADS = {
    "order.placed": "OrderPlaced",
    "order.refunded": "OrderRefunded",
    "interaction.logged": "InteractionReported",
    "customer.upserted": "CustomerUpserted",
    "complaint.filed": "ComplaintFiled",
}


class IngestError(Exception):
    """The request was refused as a whole (HTTP 4xx, bad answer): retrying will not help."""


class TransientError(Exception):
    """No acknowledgement (time-out, connection refused, HTTP 5xx or 429): safe to retry with the
    same ids. retry_after: seconds the gateway asked to wait (HTTP Retry-After), or 0."""

    def __init__(self, message, retry_after=0.0):
        super().__init__(message)
        self.retry_after = retry_after


def _default_proto_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "proto"))


def _generate(proto_dir, out_dir):
    """Runs protoc over proto_dir/crm/v1/*.proto, writing Python modules under out_dir."""
    protos = sorted(glob.glob(os.path.join(proto_dir, "crm", "v1", "*.proto")))
    if not protos:
        raise IngestError("no .proto files under %s/crm/v1" % proto_dir)
    protoc = shutil.which("protoc")
    if protoc is None:
        raise IngestError("protoc not found: install Debian's protobuf-compiler")
    # Generate beside the target, then move each file in place, so that a concurrent reader never
    # imports a half-written module.
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".gen-", dir=out_dir)
    try:
        subprocess.run([protoc, "--proto_path=" + proto_dir, "--python_out=" + staging] + protos,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = os.path.join(out_dir, "crm", "v1")
        os.makedirs(target, exist_ok=True)
        for path in glob.glob(os.path.join(staging, "crm", "v1", "*.py")):
            os.replace(path, os.path.join(target, os.path.basename(path)))
    except subprocess.CalledProcessError as e:
        raise IngestError("protoc failed: %s" % e.stderr.decode(errors="replace").strip())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with open(os.path.join(out_dir, STAMP_NAME), "w") as stamp:
        stamp.write("generated from %s\n" % proto_dir)


def _stale(proto_dir, out_dir):
    stamp = os.path.join(out_dir, STAMP_NAME)
    if not os.path.exists(stamp):
        return True
    made = os.path.getmtime(stamp)
    return any(os.path.getmtime(p) > made
               for p in glob.glob(os.path.join(proto_dir, "crm", "v1", "*.proto")))


def _upper_snake(camel):
    """"ComplaintCategory" -> "COMPLAINT_CATEGORY", as the suite's codec names enum prefixes."""
    out = []
    for i, c in enumerate(camel):
        if c.isupper() and i > 0:
            prev = camel[i - 1]
            nxt = camel[i + 1] if i + 1 < len(camel) else ""
            if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                out.append("_")
        out.append(c.upper())
    return "".join(out)


def rfc3339(value):
    """A datetime (naive means UTC) or RFC 3339 text -> (seconds, nanos)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = value - epoch
    seconds = delta.days * 86400 + delta.seconds
    return seconds, delta.microseconds * 1000


def _timestamp_text(ts):
    moment = datetime.datetime.fromtimestamp(ts.seconds, tz=datetime.timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.nanos:
        text += (".%09d" % ts.nanos).rstrip("0")
    return text + "Z"


class Contracts:
    """The generated crm.v1 protobuf modules, and helpers to build events with them.

    proto_dir: the folder holding crm/v1/*.proto (default: ../../proto from this file, or
    $CRM_PROTO_DIR). gen_dir: where to keep generated modules; None means a temporary folder
    removed by close(). The modules are imported as crm.v1.<name>_pb2.
    """

    def __init__(self, proto_dir=None, gen_dir=None):
        try:
            import google.protobuf  # noqa: F401  (python3-protobuf)
        except ImportError:
            raise IngestError("the protobuf module is missing: install python3-protobuf, and run "
                              "Debian's python3 (/usr/bin/python3)")
        self.proto_dir = proto_dir or os.environ.get("CRM_PROTO_DIR") or _default_proto_dir()
        self._tmp = None
        if gen_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crm-proto-")
            gen_dir = self._tmp.name
            _generate(self.proto_dir, gen_dir)
        elif _stale(self.proto_dir, gen_dir):
            _generate(self.proto_dir, gen_dir)
        self.gen_dir = gen_dir
        if gen_dir not in sys.path:
            sys.path.insert(0, gen_dir)
        importlib.invalidate_caches()
        self.types = importlib.import_module("crm.v1.types_pb2")
        self.contacts = importlib.import_module("crm.v1.contacts_pb2")
        self.envelope = importlib.import_module("crm.v1.envelope_pb2")
        self.ingest = importlib.import_module("crm.v1.ingest_pb2")

    def close(self):
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- payloads -------------------------------------------------------------------------------

    def payload_class(self, event_type):
        name = PAYLOADS.get(event_type)
        if name is None:
            raise ValueError("unknown event type %r (known: %s)" % (event_type, ", ".join(PAYLOADS)))
        return getattr(self.ingest, name)

    def enum_value(self, enum_name, short):
        """("Channel", "phone") -> CHANNEL_PHONE's number; the full name works too."""
        enum = self.ingest.DESCRIPTOR.enum_types_by_name.get(enum_name) \
            or self.contacts.DESCRIPTOR.enum_types_by_name.get(enum_name) \
            or self.types.DESCRIPTOR.enum_types_by_name[enum_name]
        wanted = short.upper().replace("-", "_")
        for value in enum.values:
            if value.name in (wanted, _upper_snake(enum_name) + "_" + wanted):
                return value.number
        raise ValueError("unknown %s %r" % (enum_name, short))

    def customer_ref(self, customer_id=None, email=None, external=None):
        """external: (system, id). Exactly one way of naming the customer is enough."""
        ref = self.ingest.CustomerRef()
        if customer_id:
            ref.customer_id = customer_id
        if email:
            ref.email = email
        if external:
            ref.external_id.system, ref.external_id.id = external
        return ref

    def order_placed(self, order_id, customer, amount_minor, currency, items=(), placed_at=None):
        """items: (sku, quantity, unit_price_minor[, name]) tuples."""
        msg = self.ingest.OrderPlaced(order_id=order_id, amount_minor=amount_minor, currency=currency)
        msg.customer.CopyFrom(customer)
        for item in items:
            line = msg.items.add(sku=item[0], quantity=int(item[1]), unit_price_minor=int(item[2]))
            if len(item) > 3:
                line.name = item[3]
        if placed_at:
            msg.placed_at.seconds, msg.placed_at.nanos = rfc3339(placed_at)
        return msg

    def order_refunded(self, order_id, refund_id, amount_minor, currency="", reason="", refunded_at=None):
        msg = self.ingest.OrderRefunded(order_id=order_id, refund_id=refund_id,
                                        amount_minor=amount_minor, currency=currency, reason=reason)
        if refunded_at:
            msg.refunded_at.seconds, msg.refunded_at.nanos = rfc3339(refunded_at)
        return msg

    def complaint_filed(self, customer, channel, subject="", text="", category=None, priority=None,
                        attachments=(), occurred_at=None):
        """channel, category, priority: short names such as "phone", "delivery", "high"."""
        msg = self.ingest.ComplaintFiled(subject=subject, text=text,
                                         channel=self.enum_value("Channel", channel))
        msg.customer.CopyFrom(customer)
        if category:
            msg.category = self.enum_value("ComplaintCategory", category)
        if priority:
            msg.priority = self.enum_value("Priority", priority)
        msg.attachments.extend(attachments)
        if occurred_at:
            msg.occurred_at.seconds, msg.occurred_at.nanos = rfc3339(occurred_at)
        return msg

    def interaction_reported(self, customer, channel, direction="inbound", summary="", agent="",
                             occurred_at=None):
        msg = self.ingest.InteractionReported(channel=self.enum_value("Channel", channel),
                                              direction=self.enum_value("Direction", direction),
                                              summary=summary, agent=agent)
        msg.customer.CopyFrom(customer)
        if occurred_at:
            msg.occurred_at.seconds, msg.occurred_at.nanos = rfc3339(occurred_at)
        return msg

    # --- envelopes ------------------------------------------------------------------------------

    def event(self, event_type, event_id, source, payload, time_=None):
        """A crm.v1.Event carrying payload (packed). event_id must stay the same on every retry."""
        expected = self.payload_class(event_type)
        if not isinstance(payload, expected):
            raise TypeError("%s carries %s, not %s" % (event_type, expected.DESCRIPTOR.full_name,
                                                       payload.DESCRIPTOR.full_name))
        event = self.envelope.Event(id=event_id, source=source, spec_version=SPEC_VERSION,
                                    type=event_type, data=payload.SerializeToString(),
                                    data_schema=payload.DESCRIPTOR.full_name,
                                    data_content_type=MEDIA_PROTOBUF)
        if time_:
            event.time.seconds, event.time.nanos = rfc3339(time_)
        return event

    def payload_of(self, event):
        msg = self.payload_class(event.type)()
        msg.ParseFromString(event.data)
        return msg

    def to_cloudevent(self, event):
        """The event as a CloudEvents JSON object (a dict), data in the suite's JSON mapping."""
        ce = {"specversion": event.spec_version or SPEC_VERSION, "id": event.id,
              "source": event.source, "type": event.type, "datacontenttype": MEDIA_JSON,
              "data": message_to_json(self.payload_of(event))}
        if event.HasField("time"):
            ce["time"] = _timestamp_text(event.time)
        return ce


def _field_to_json(field, value):
    fd = field.__class__
    if field.type == fd.TYPE_MESSAGE:
        return message_to_json(value)
    if field.type == fd.TYPE_ENUM:
        prefix = _upper_snake(field.enum_type.name) + "_"
        name = field.enum_type.values_by_number[value].name
        return (name[len(prefix):] if name.startswith(prefix) else name).lower()
    if field.type in (fd.TYPE_INT64, fd.TYPE_UINT64, fd.TYPE_SINT64, fd.TYPE_FIXED64,
                      fd.TYPE_SFIXED64):
        return str(value)
    if field.type == fd.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def message_to_json(msg):
    """A protobuf message as the suite's JSON: lowerCamelCase names, enums as short lowercase
    names, 64-bit integers as strings, crm.v1.Timestamp as RFC 3339, crm.v1.Value as a bare scalar,
    fields at their default left out."""
    name = msg.DESCRIPTOR.full_name
    if name == "crm.v1.Timestamp":
        return _timestamp_text(msg)
    if name == "crm.v1.Value":
        kind = msg.WhichOneof("kind")
        return getattr(msg, kind) if kind else None
    out = {}
    for field, value in msg.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.json_name] = {str(k): _field_to_json(value_field, v) for k, v in value.items()}
        elif field.label == field.LABEL_REPEATED:
            out[field.json_name] = [_field_to_json(field, v) for v in value]
        else:
            out[field.json_name] = _field_to_json(field, value)
    return out


class Result:
    """One event's acknowledgement: outcome "accepted", "duplicate" or "rejected"."""

    def __init__(self, event_id, source, outcome, sequence=0, error="", field=""):
        self.id, self.source, self.outcome = event_id, source, outcome
        self.sequence, self.error, self.field = sequence, error, field

    def ok(self):
        return self.outcome in ("accepted", "duplicate")

    def as_dict(self):
        d = {"id": self.id, "source": self.source, "outcome": self.outcome}
        if self.sequence:
            d["sequence"] = str(self.sequence)
        if self.error:
            d["error"] = self.error
        if self.field:
            d["field"] = self.field
        return d


class HttpPublisher:
    """POST /v1/events: one event as structured mode, several as one batch (at most
    CRM_INGEST_MAX_BATCH, 1000 by default). key: an API key with role integrator (or admin)."""

    def __init__(self, contracts, url=DEFAULT_URL, key=None, timeout=DEFAULT_TIMEOUT_S):
        self.contracts, self.url, self.key, self.timeout = contracts, url.rstrip("/"), key, timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def publish(self, events):
        """Sends events; returns one Result per event, in order. Raises TransientError (retry) or
        IngestError (the request was refused whole)."""
        objects = [self.contracts.to_cloudevent(e) for e in events]
        if len(objects) == 1:
            body, media = objects[0], MEDIA_STRUCTURED
        else:
            body, media = objects, MEDIA_BATCH
        request = urllib.request.Request(self.url + "/v1/events", method="POST",
                                         data=json.dumps(body, ensure_ascii=False).encode(),
                                         headers={"Content-Type": media})
        if self.key:
            request.add_header("Authorization", "Bearer " + self.key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                reply = json.loads(answer.read())
        except urllib.error.HTTPError as e:
            problem = e.read().decode(errors="replace")
            if e.code >= 500 or e.code == 429:
                try:
                    wait = float(e.headers.get("Retry-After", "0"))
                except ValueError:
                    wait = 0.0
                raise TransientError("HTTP %d: %s" % (e.code, problem), wait)
            raise IngestError("HTTP %d: %s" % (e.code, problem))
        except (urllib.error.URLError, OSError) as e:      # refused, reset, time-out
            raise TransientError("HTTP: %s" % e)
        results = reply.get("results", [])
        if len(results) != len(events):
            raise IngestError("expected %d results, got %r" % (len(events), reply))
        return [Result(r.get("id", ""), r.get("source", ""), r.get("outcome", ""),
                       int(r.get("sequence", 0)), r.get("error", ""), r.get("field", ""))
                for r in results]


class ZmqPublisher:
    """A DEALER connected to the gateway's ingest socket. Each message is one packed crm.v1.Event;
    each answer one packed crm.v1.IngestResult, sent after the commit, in the order sent."""

    def __init__(self, contracts, endpoint=DEFAULT_ENDPOINT, timeout=DEFAULT_TIMEOUT_S):
        try:
            import zmq                               # python3-zmq; only needed here
        except ImportError:
            raise IngestError("the zmq module is missing: install python3-zmq, and run Debian's "
                              "python3 (/usr/bin/python3)")
        self._zmq = zmq
        self.contracts, self.endpoint, self.timeout = contracts, endpoint, timeout
        self._ctx = zmq.Context()
        self._socket = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _open(self):
        if self._socket is None:
            self._socket = self._ctx.socket(self._zmq.DEALER)
            self._socket.setsockopt(self._zmq.LINGER, 0)
            self._socket.connect(self.endpoint)
        return self._socket

    def _drop(self):
        # After a time-out the old socket may still receive a late result; a new socket (new
        # identity) makes sure it is never taken for the answer to a later message.
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None

    def close(self):
        self._drop()
        self._ctx.term()

    def publish(self, events):
        """Sends every event, then reads one result per event. Returns the Results, in order;
        raises TransientError when an acknowledgement does not come within the time-out."""
        socket = self._open()
        for event in events:
            socket.send(event.SerializeToString())
        outcome = self.contracts.ingest.IngestResult.Outcome
        results = []
        deadline = time.monotonic() + self.timeout
        while len(results) < len(events):
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not socket.poll(left_ms, self._zmq.POLLIN):
                self._drop()
                raise TransientError("no acknowledgement from %s within %.1f s"
                                     % (self.endpoint, self.timeout))
            reply = self.contracts.ingest.IngestResult()
            reply.ParseFromString(socket.recv())
            name = outcome.Name(reply.outcome).replace("OUTCOME_", "").lower()
            results.append(Result(reply.id, reply.source, name, reply.sequence, reply.error,
                                  reply.field))
        return results


def publish(publisher, events, retries=DEFAULT_RETRIES, backoff=BACKOFF_FIRST_S):
    """Publishes events, retrying transient failures with the SAME events (the gateway deduplicates
    by source and id, so a retry of an event that was in fact committed answers "duplicate").
    Returns one Result per event; raises TransientError after the last attempt."""
    attempt = 0
    while True:
        try:
            return publisher.publish(events)
        except TransientError as e:
            if attempt >= retries:
                raise
            time.sleep(max(min(backoff * (2 ** attempt), BACKOFF_MAX_S), e.retry_after))
            attempt += 1


# --- command line ---------------------------------------------------------------------------------

def _customer_from_args(contracts, args):
    external = None
    if args.external:
        system, sep, ident = args.external.partition(":")
        if not sep or not system or not ident:
            raise ValueError("--external wants SYSTEM:ID")
        external = (system, ident)
    if not (args.customer_id or args.email or external):
        raise ValueError("name the customer: --customer-id, --email or --external SYSTEM:ID")
    return contracts.customer_ref(args.customer_id, args.email, external)


def _item(text):
    parts = text.split(":", 3)
    if len(parts) < 3:
        raise argparse.ArgumentTypeError("--item wants SKU:QUANTITY:UNIT_PRICE_MINOR[:NAME]")
    return tuple(parts)


def _build(contracts, args):
    if args.command == "order":
        payload = contracts.order_placed(args.order_id, _customer_from_args(contracts, args),
                                         args.amount, args.currency, args.item or (), args.at)
        return "order.placed", payload
    if args.command == "refund":
        payload = contracts.order_refunded(args.order_id, args.refund_id, args.amount,
                                           args.currency or "", args.reason or "", args.at)
        return "order.refunded", payload
    if args.command == "complaint":
        payload = contracts.complaint_filed(_customer_from_args(contracts, args), args.channel,
                                            args.subject or "", args.text or "", args.category,
                                            args.priority, args.attachment or (), args.at)
        return "complaint.filed", payload
    payload = contracts.interaction_reported(_customer_from_args(contracts, args), args.channel,
                                             args.direction, args.summary or "", args.agent or "",
                                             args.at)
    return "interaction.logged", payload


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--transport", choices=("http", "zmq"), default="http")
    common.add_argument("--url", default=os.environ.get("CRM_URL", DEFAULT_URL),
                        help="the gateway (HTTP); default $CRM_URL or %s" % DEFAULT_URL)
    common.add_argument("--key", default=os.environ.get("CRM_API_KEY"),
                        help="API key for HTTP (role integrator); default $CRM_API_KEY")
    common.add_argument("--endpoint", default=os.environ.get("CRM_INGEST_ENDPOINT", DEFAULT_ENDPOINT),
                        help="the ZeroMQ ingest socket; default $CRM_INGEST_ENDPOINT or %s"
                        % DEFAULT_ENDPOINT)
    common.add_argument("--id", required=True, help="the event id, unique per source; reuse it on retry")
    common.add_argument("--source", default="/example/python", help="URI reference of your system")
    common.add_argument("--at", help="when it happened, RFC 3339 (e.g. 2026-11-20T08:00:00Z)")
    common.add_argument("--copies", type=int, default=1,
                        help="send the event this many times (to see deduplication)")
    common.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    common.add_argument("--retries", type=int, default=DEFAULT_RETRIES)
    common.add_argument("--proto-dir", help="folder holding crm/v1/*.proto; default ../../proto")
    common.add_argument("--gen-dir", help="keep generated modules here (default: a temporary folder)")

    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--customer-id")
    who.add_argument("--email")
    who.add_argument("--external", metavar="SYSTEM:ID")

    parser = argparse.ArgumentParser(description="Publish events to the CRM suite.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("order", parents=[common, who], help="order.placed")
    p.add_argument("--order-id", required=True)
    p.add_argument("--amount", type=int, required=True, help="minor units (cents, fen)")
    p.add_argument("--currency", required=True, help="ISO 4217, e.g. CNY")
    p.add_argument("--item", type=_item, action="append", metavar="SKU:QTY:UNIT_PRICE_MINOR[:NAME]")
    p = sub.add_parser("refund", parents=[common], help="order.refunded")
    p.add_argument("--order-id", required=True)
    p.add_argument("--refund-id", required=True)
    p.add_argument("--amount", type=int, required=True)
    p.add_argument("--currency")
    p.add_argument("--reason")
    p = sub.add_parser("complaint", parents=[common, who], help="complaint.filed")
    p.add_argument("--channel", required=True, help="phone, email, social, chat or visit")
    p.add_argument("--subject")
    p.add_argument("--text")
    p.add_argument("--category", help="product, service, delivery, billing or suggestion")
    p.add_argument("--priority", help="low, normal, high or urgent")
    p.add_argument("--attachment", action="append", help="a reference (URL, document id)")
    p = sub.add_parser("interaction", parents=[common, who], help="interaction.logged")
    p.add_argument("--channel", required=True)
    p.add_argument("--direction", default="inbound")
    p.add_argument("--summary")
    p.add_argument("--agent")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error("--copies must be at least 1")
    try:
        with Contracts(args.proto_dir, args.gen_dir) as contracts:
            try:
                event_type, payload = _build(contracts, args)
            except ValueError as e:
                parser.error(str(e))
            event = contracts.event(event_type, args.id, args.source, payload, args.at)
            events = [event] * args.copies
            if args.transport == "http":
                publisher = HttpPublisher(contracts, args.url, args.key, args.timeout)
            else:
                publisher = ZmqPublisher(contracts, args.endpoint, args.timeout)
            with publisher:
                results = publish(publisher, events, args.retries)
    except TransientError as e:
        print("crm_ingest: gave up: %s" % e, file=sys.stderr)
        return EXIT_UNAVAILABLE
    except IngestError as e:
        print("crm_ingest: %s" % e, file=sys.stderr)
        return EXIT_REJECTED
    for r in results:
        print(json.dumps(r.as_dict(), ensure_ascii=False))
    return EXIT_OK if all(r.ok() for r in results) else EXIT_REJECTED


if __name__ == "__main__":
    sys.exit(main())
