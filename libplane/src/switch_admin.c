/* ADMIN at the switch: operator-driven promote/demote of a key and failure drills of a device. */
#include "switch_internal.h"

#include <inttypes.h>
#include <string.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mp.h"
#include "common/rpc.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "ctx.h"
#include "flowmgr.h"
#include "update.h"

PLANE_LOG_MODULE(switch_admin);

/*
 * A drill makes the switch stop hearing a device, exactly as if its
 * heartbeats were lost on the way: the device's RPC peer is pointed at a
 * blackhole (the device's own address with port 0, which the kernel refuses
 * to send to, so nothing leaves the host), so every heartbeat period goes
 * unanswered and after heartbeat_misses of them the ordinary liveness path
 * (sw_hb_timer_cb) takes the device down, fails its logicals over and
 * broadcasts the device map.  Failover time measured in a drill is
 * therefore the real detection time.  DRILL_UP points the peer back at the
 * configured address; the next answered heartbeat brings the device up and
 * through recovery like any device that comes back.  The drill lives only in
 * the switch's peer table: a restarted switch has no drill in force.
 */
static int
admin_drill(struct plane_switch *sw, uint16_t id, bool fail)
{
    const struct plane_config_device *cfg = NULL;
    for (size_t i = 0; i < sw->n_devs; i++) {
        if (sw->devs[i].cfg->id == id) {
            cfg = sw->devs[i].cfg;
        }
    }
    if (!cfg) {
        return PLANE_ENOENT;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, &cfg->address.sa, sizeof ss);
    if (fail) {
        if (ss.ss_family == AF_INET) {
            ((struct sockaddr_in *) &ss)->sin_port = 0;
        } else {
            ((struct sockaddr_in6 *) &ss)->sin6_port = 0;
        }
    }
    int rc = plane_rpc_peer_add(sw->rpc, id, (const struct sockaddr *) &ss);
    if (!rc) {
        PLANE_WARN("drill: device %s %s by the operator", cfg->name,
                   fail ? "failed (heartbeats ignored)" : "restored");
    }
    return rc;
}

/* Promotes or demotes one key of app a; the switch masks it to the union key. */
static int
admin_update(struct plane_switch *sw, const struct plane_body_admin *b)
{
    struct sw_app *a = NULL;
    for (size_t i = 0; i < sw->n_apps; i++) {
        if (sw->apps[i].cfg->id == b->app_id) {
            a = &sw->apps[i];
        }
    }
    if (!a) {
        return PLANE_ENOENT;
    }
    struct plane_flow_key k, masked;
    if (b->key_len != sizeof k) {
        return PLANE_EINVAL;
    }
    memcpy(&k, b->key, sizeof k);
    plane_app_inst_union_key(a->inst, &k, &masked);
    uint64_t now = plane_clock_now_ns();
    /* Later phases (T_flush, retries) run from the switch's update timer:
     * arm it for the new deadline now. */
    int rc;
    if (b->op == PLANE_ADMIN_PROMOTE) {
        if (!a->at_switch) {
            /* The switch lacks the app's features, or its devices: list
             * omits the switch: its hits would run where it may not. */
            return PLANE_ENOTSUP;
        }
        if (plane_flowmgr_contains(a->fm, &masked)) {
            return PLANE_EEXIST;
        }
        /* An operator's promotion starts "protected" at the highest
         * estimate: it decays to a victim's only after idle epochs. */
        rc = plane_update_promote_est(a->upd, &masked, PLANE_FLOWMGR_EST_MAX, now);
    } else {
        rc = plane_update_demote(a->upd, &masked, now);
    }
    plane_switch__arm_updates(sw);
    return rc;
}

void
plane_switch__h_admin(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_switch *sw = arg;
    struct plane_body_admin b;
    plane_mp_zone_clear(&sw->zone);
    int rc = plane_body_admin_decode(req->ctl->body, req->ctl->body_len, &sw->zone, &b);
    if (rc) {
        PLANE_WARN_RL(&rl, "ADMIN from %u does not decode", req->peer);
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
        return;
    }
    switch (b.op) {
    case PLANE_ADMIN_PROMOTE:
    case PLANE_ADMIN_DEMOTE:
        rc = admin_update(sw, &b);
        break;
    case PLANE_ADMIN_DRILL_FAIL:
    case PLANE_ADMIN_DRILL_UP:
        rc = admin_drill(sw, b.device, b.op == PLANE_ADMIN_DRILL_FAIL);
        break;
    default:
        rc = PLANE_EINVAL;
        break;
    }
    PLANE_INFO("ADMIN op %u app %u device %u from %u: %s", b.op, b.app_id, b.device,
               req->peer, rc ? plane_err_name(rc) : "ok");
    plane_rpc_respond(rpc, req->token, rc, NULL, 0);
}
