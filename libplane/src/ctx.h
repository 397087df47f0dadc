/* Running one packet through an app instance, and the union-key view of its state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plane/app.h>
#include <plane/flow.h>

struct plane_app_inst;
struct plane_pkt;

/* Table updates one new_flow() call may make (more are refused). */
#define PLANE_RUN_MAX_UPDATES 16

enum plane_run_update_op {
    PLANE_RUN_INSERT = 0,    /* insert or replace key -> value */
    PLANE_RUN_DELETE = 1,    /* delete key (value unused) */
    PLANE_RUN_MERGE = 2,     /* merge value (an operand) into key's register entry */
    PLANE_RUN_SKETCH = 3,    /* add key (an item) to a sketch: CMS with count
                              * value (8 bytes), Bloom without value */
};

/*
 * One update to replicate: a table update made by control logic, or (when
 * the instance logs merges, plane_app_inst_log_merges()) a register merge
 * made by process(), with its operand.
 */
struct plane_run_update {
    uint16_t obj;            /* index into the app's objects */
    uint8_t op;              /* enum plane_run_update_op */
    uint8_t key_len;
    uint8_t value_len;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    uint8_t value[PLANE_OBJ_MAX_VALUE];
};

/* What happened to one packet. */
struct plane_run_result {
    /*
     * FORWARD (to egress_port), DROP, or MISS: only at the switch (not
     * external), meaning the daemon must send the packet to the device
     * holding the union key's state.
     */
    enum plane_verdict verdict;
    uint16_t egress_port;
    bool parse_error;        /* frame unparseable: verdict DROP */
    bool new_flow_ran;
    int new_flow_rc;         /* new_flow()'s return when it ran */
    /* The packet's union key as it arrived (before any rewrite); empty on a
     * parse error. */
    struct plane_flow_key union_key;
    /*
     * Updates made while processing, in order, already applied locally:
     * new_flow()'s table updates, then (when logging merges) every register
     * merge.  updates_lost: more than PLANE_RUN_MAX_UPDATES were made; the
     * extra merges were applied but not logged, the extra table updates
     * refused.
     */
    bool updates_lost;
    size_t n_updates;
    struct plane_run_update updates[PLANE_RUN_MAX_UPDATES];
};

/*
 * Runs one frame (len bytes, rewritten in place by NAT-like actions)
 * through inst: parses it (an unparseable frame is a counted drop), calls
 * process() with a context on the stack, and on a MISS at an external
 * device calls new_flow() (the only place table inserts are allowed) and
 * process() again; at the switch a MISS is returned to the caller.
 * Allocates nothing.  Per-app counters accumulate in inst's stats.
 *
 * process() returning MISS should do so before updating any state: the
 * packet is processed again from the start after new_flow().
 *
 * Returns 0 with *out filled, or PLANE_EINVAL on NULL arguments.
 */
int plane_app_inst_run(struct plane_app_inst *inst, uint8_t *frame, size_t len,
                       uint16_t in_port, uint64_t now_ns,
                       struct plane_run_result *out);

/*
 * plane_app_inst_run() for a frame the caller already parsed: pkt must be
 * plane_pkt_parse() of these len bytes (of frame or of an identical copy:
 * a parse holds offsets only), which saves the second parse on the
 * switch's hit path.  A caller whose parse failed calls plane_app_inst_run()
 * instead.  Same returns.
 */
int plane_app_inst_run_parsed(struct plane_app_inst *inst, uint8_t *frame, size_t len,
                              const struct plane_pkt *pkt, uint16_t in_port, uint64_t now_ns,
                              struct plane_run_result *out);

/*
 * Writes the state key of a packet with flow key `flow`: the app's
 * state_key() of it, or flow itself.  flow and out may be the same object.
 */
void plane_app_inst_state_key(const struct plane_app_inst *inst,
                              const struct plane_flow_key *flow,
                              struct plane_flow_key *out);
/*
 * Writes the union key of a packet with flow key `flow`: its state key
 * masked with the app's union_key_fields.  flow and out may be the same
 * object.  A union key maps to itself (state_key() is idempotent).
 */
void plane_app_inst_union_key(const struct plane_app_inst *inst,
                              const struct plane_flow_key *flow,
                              struct plane_flow_key *out);

/*
 * The entries of one union key in every table and register of inst: each
 * object's key is the union key masked with the object's key_fields (a
 * subset), so a union key names exactly one key per object.  Calls
 * cb(arg, obj, key, klen, value) once per table/register object, in object
 * order, with value pointing at the stored value (value_len bytes, valid
 * until the object changes) or NULL when the entry is absent, so callers
 * moving a flow's state can copy the present ones and clear stale ones.
 * Sketches are skipped (they are whole-object arrays).  A non-zero return
 * from cb stops the walk and is returned; otherwise 0.
 */
typedef int (*plane_app_entry_fn)(void *arg, uint16_t obj, const void *key,
                                  size_t klen, const void *value);
int plane_app_inst_entry_keys(const struct plane_app_inst *inst,
                              const struct plane_flow_key *union_key,
                              plane_app_entry_fn cb, void *arg);
