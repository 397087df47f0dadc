/* Merge operators (o+ and o-) of data-plane-updatable objects. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <plane/app.h>

/*
 * An object's merge operator, resolved once from its descriptor.  The sync
 * protocol (sync.c) and the object store (object.c) combine values only
 * through these, so a custom operator behaves exactly like a built-in one.
 */
struct plane_merge {
    enum plane_merge_op op;
    plane_merge_fn plus;
    plane_merge_fn minus;    /* NULL: idempotent operator without inverse */
};

/*
 * Resolves the operator of an object descriptor.  Returns 0, or PLANE_EINVAL
 * for an unknown kind or operator, a CUSTOM operator without plus, a built-in
 * one on a value_len that is not a multiple of 8, a non-table object whose
 * value_len is above PLANE_OBJ_MAX_VALUE, a register whose value_len is 0,
 * PLANE_MERGE_NONE on a
 * non-table object, or a merge operator on a table.
 */
int plane_merge_init(struct plane_merge *m, const struct plane_obj_desc *desc);

/* out = a o+ b over len bytes; out may alias a or b.  Not for MERGE_NONE. */
void plane_merge_plus(const struct plane_merge *m, void *out, const void *a,
                      const void *b, size_t len);

/* True when the operator has an inverse (ADD, or CUSTOM with minus). */
bool plane_merge_has_minus(const struct plane_merge *m);

/*
 * out = a o- b over len bytes.  Only when plane_merge_has_minus(); for an
 * idempotent operator callers merge snapshots directly instead.
 */
void plane_merge_minus(const struct plane_merge *m, void *out, const void *a,
                       const void *b, size_t len);
