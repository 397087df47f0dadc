/* Plane's wire protocol: the msgpack header of every datagram (see docs/protocol.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire_msgs.h"

/* Bumped on any incompatible change of any layout in this file. */
#define PLANE_WIRE_VERSION 1

/* The largest datagram Plane sends or accepts (header + frame or body). */
#define PLANE_WIRE_MAX_DATAGRAM 9216
/* Control messages end with a MAC of this many bytes (crypto_auth). */
#define PLANE_WIRE_MAC_LEN 32

/* Element 1 of every header array: which kind of datagram this is. */
enum plane_wire_class {
    PLANE_WIRE_DATA = 0,
    PLANE_WIRE_CONTROL = 1,
};

/* Flags of a DATA header. */
enum plane_wire_data_flags {
    PLANE_DATA_F_PROCESSED = 1u << 0,  /* an app already processed the frame */
    PLANE_DATA_F_NEW_FLOW  = 1u << 1,  /* the processing device ran control logic */
    PLANE_DATA_F_DROP      = 1u << 2,  /* the app dropped it (reported, not forwarded) */
    PLANE_DATA_F_TO_EGRESS = 1u << 3,  /* egress datagram leaving the rack */
};

/*
 * DATA header: a fixarray of 11, then the raw Ethernet frame to the end of
 * the datagram.  Decoding points frame into the datagram: no copy and no
 * allocation.
 */
struct plane_wire_data {
    uint16_t app_id;
    uint64_t key_hash;        /* XXH3 of the app's union key, rack-seeded */
    uint16_t ldev;            /* logical device owning the key's shard */
    uint16_t pdev;            /* physical device it was sent to */
    uint32_t flags;           /* enum plane_wire_data_flags */
    uint64_t ingress_ns;      /* switch ingress timestamp */
    uint16_t port;            /* ingress port at the switch; egress once processed */
    uint16_t processed_by;    /* device id that processed it (0xffff = none) */
    uint64_t processed_ns;    /* when it was processed */
    const uint8_t *frame;     /* points into the datagram */
    size_t frame_len;
};

#define PLANE_DEV_NONE 0xffffu
/* The sender id of control clients (planectl, programs using plane_client_*):
 * not a device of the rack, one new incarnation per run. */
#define PLANE_CLIENT_ID 0xfffeu

/* Control messages are requests or responses. */
enum plane_wire_ctl_kind {
    PLANE_CTL_REQUEST = 0,
    PLANE_CTL_RESPONSE = 1,
};

/*
 * CONTROL envelope: a fixarray of 10 whose last element is the body (any
 * msgpack value, typed by msg_type), then PLANE_WIRE_MAC_LEN bytes of MAC
 * over every byte before it.
 */
struct plane_wire_ctl {
    uint8_t kind;             /* enum plane_wire_ctl_kind */
    uint16_t sender;          /* sender's device id */
    uint64_t incarnation;     /* grows per start of the sender (plane_auth_new_incarnation) */
    uint64_t seq;             /* per-sender sequence, fresh for every datagram */
    uint64_t request_id;      /* same on retransmissions and on the response */
    uint16_t msg_type;        /* enum plane_msg_type */
    int32_t status;           /* 0 or a PLANE_E* code (responses) */
    const uint8_t *body;      /* msgpack bytes of the body, into the datagram */
    size_t body_len;
};

/*
 * Reads elements 0 and 1 of any datagram's header.  Returns 0 with *cls set,
 * PLANE_ETRUNC/PLANE_EBADMSG on malformed input, PLANE_EVERSION on a version
 * other than PLANE_WIRE_VERSION.
 */
int plane_wire_peek(const uint8_t *buf, size_t len, enum plane_wire_class *cls);

/*
 * Encodes a DATA header for d followed by d->frame into buf (capacity cap).
 * Returns the datagram's length, or PLANE_EMSGSIZE when it does not fit.
 * No allocation.
 */
int plane_wire_data_encode(const struct plane_wire_data *d, uint8_t *buf, size_t cap);

/*
 * Decodes a DATA datagram.  On success d->frame points into buf.  Returns 0,
 * or PLANE_ETRUNC / PLANE_EBADMSG / PLANE_EVERSION, or PLANE_EMSGSIZE when
 * len exceeds PLANE_WIRE_MAX_DATAGRAM.  No allocation.
 */
int plane_wire_data_decode(const uint8_t *buf, size_t len, struct plane_wire_data *d);

/*
 * Encodes a CONTROL envelope for c whose body is the c->body_len msgpack
 * bytes at c->body, and leaves PLANE_WIRE_MAC_LEN zero bytes at the end for
 * the MAC (plane_auth_seal() fills them).  A body_len of 0 encodes a nil
 * (empty) body.  The body bytes are copied as they are, not validated.
 * Returns the datagram's length, or PLANE_EMSGSIZE (longer than cap or than
 * PLANE_WIRE_MAX_DATAGRAM).
 */
int plane_wire_ctl_encode(const struct plane_wire_ctl *c, uint8_t *buf, size_t cap);

/*
 * Decodes a CONTROL envelope whose MAC the caller already checked; the
 * trailing MAC is not part of the input (len excludes it).  c->body points
 * into buf.  Returns 0, or PLANE_ETRUNC / PLANE_EBADMSG / PLANE_EVERSION, or
 * PLANE_EMSGSIZE when len exceeds PLANE_WIRE_MAX_DATAGRAM.  The body must be
 * exactly one msgpack object (at most PLANE_WIRE_BODY_MAX_DEPTH deep, at most
 * PLANE_WIRE_BODY_MAX_ELEMS elements) ending at len.  msg_type is not
 * checked against the table (the dispatcher answers unknown types).
 */
int plane_wire_ctl_decode(const uint8_t *buf, size_t len, struct plane_wire_ctl *c);

/*
 * Encoding a CONTROL datagram without a second buffer: _ctl_begin packs the
 * envelope's first 9 elements (c->body and c->body_len are ignored) into w,
 * the caller then packs exactly one msgpack object as the body straight into
 * w (a plane_body_*_encode(), or msgpack_pack_nil(&w->pk)), and _ctl_end
 * appends the zeroed MAC.  _ctl_begin returns 0 or PLANE_EMSGSIZE; _ctl_end
 * returns the datagram's length, or PLANE_EMSGSIZE when anything overflowed
 * w or the datagram exceeds PLANE_WIRE_MAX_DATAGRAM.
 */
struct plane_mp_writer;
int plane_wire_ctl_begin(const struct plane_wire_ctl *c, struct plane_mp_writer *w);
int plane_wire_ctl_end(struct plane_mp_writer *w);

/* Limits on a control body's msgpack object (checked by plane_wire_ctl_decode). */
#define PLANE_WIRE_BODY_MAX_DEPTH 6
#define PLANE_WIRE_BODY_MAX_ELEMS 65536
