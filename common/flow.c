/* Flow-key helpers declared in <plane/flow.h>: init, reverse, compare, mask, format. */
#include <plane/flow.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct plane_flow_key) == 40,
               "flow key must have no implicit padding");

void
plane_flow_key_init(struct plane_flow_key *key)
{
    memset(key, 0, sizeof *key);
}

static void
set_v4_mapped(uint8_t out[16], const uint8_t a[4])
{
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + PLANE_FLOW_V4_OFF, a, 4);
}

void
plane_flow_key_set_v4(struct plane_flow_key *key, uint8_t proto,
                      const uint8_t src[4], uint16_t src_port,
                      const uint8_t dst[4], uint16_t dst_port)
{
    memset(key, 0, sizeof *key);
    set_v4_mapped(key->src_addr, src);
    set_v4_mapped(key->dst_addr, dst);
    key->src_port = src_port;
    key->dst_port = dst_port;
    key->ip_version = 4;
    key->proto = proto;
}

void
plane_flow_key_set_v6(struct plane_flow_key *key, uint8_t proto,
                      const uint8_t src[16], uint16_t src_port,
                      const uint8_t dst[16], uint16_t dst_port)
{
    memset(key, 0, sizeof *key);
    memcpy(key->src_addr, src, 16);
    memcpy(key->dst_addr, dst, 16);
    key->src_port = src_port;
    key->dst_port = dst_port;
    key->ip_version = 6;
    key->proto = proto;
}

void
plane_flow_key_reverse(const struct plane_flow_key *key,
                       struct plane_flow_key *out)
{
    /* Work on a copy so key and out may alias. */
    struct plane_flow_key r = *key;

    memcpy(r.src_addr, key->dst_addr, 16);
    memcpy(r.dst_addr, key->src_addr, 16);
    r.src_port = key->dst_port;
    r.dst_port = key->src_port;
    *out = r;
}

bool
plane_flow_key_eq(const struct plane_flow_key *a, const struct plane_flow_key *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

void
plane_flow_key_mask(const struct plane_flow_key *key, unsigned fields,
                    struct plane_flow_key *out)
{
    struct plane_flow_key m;

    memset(&m, 0, sizeof m);
    if (fields & PLANE_FLOW_SRC_IP) {
        memcpy(m.src_addr, key->src_addr, 16);
    }
    if (fields & PLANE_FLOW_DST_IP) {
        memcpy(m.dst_addr, key->dst_addr, 16);
    }
    if (fields & (PLANE_FLOW_SRC_IP | PLANE_FLOW_DST_IP)) {
        m.ip_version = key->ip_version;
    }
    if (fields & PLANE_FLOW_SRC_PORT) {
        m.src_port = key->src_port;
    }
    if (fields & PLANE_FLOW_DST_PORT) {
        m.dst_port = key->dst_port;
    }
    if (fields & PLANE_FLOW_PROTO) {
        m.proto = key->proto;
    }
    *out = m;
}

static const char *
proto_name(uint8_t proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "icmp6";
    case 132: return "sctp";
    default: return NULL;
    }
}

/* Writes addr as text; v6 addresses get brackets when a port follows. */
static void
addr_str(const struct plane_flow_key *key, const uint8_t addr[16],
         bool bracket, char *buf, size_t len)
{
    char tmp[INET6_ADDRSTRLEN];

    if (key->ip_version == 4) {
        inet_ntop(AF_INET, addr + PLANE_FLOW_V4_OFF, tmp, sizeof tmp);
        snprintf(buf, len, "%s", tmp);
    } else {
        inet_ntop(AF_INET6, addr, tmp, sizeof tmp);
        snprintf(buf, len, bracket ? "[%s]" : "%s", tmp);
    }
}

char *
plane_flow_key_format(const struct plane_flow_key *key, char *buf, size_t len)
{
    char src[INET6_ADDRSTRLEN + 2], dst[INET6_ADDRSTRLEN + 2], pname[16];
    const char *name = proto_name(key->proto);
    bool ports = key->proto == 6 || key->proto == 17 || key->proto == 132;
    bool icmp = key->proto == 1 || key->proto == 58;

    if (len == 0) {
        return buf;
    }
    if (key->ip_version != 4 && key->ip_version != 6) {
        snprintf(buf, len, "none");
        return buf;
    }
    if (!name) {
        snprintf(pname, sizeof pname, "proto %u", (unsigned) key->proto);
        name = pname;
    }
    addr_str(key, key->src_addr, ports, src, sizeof src);
    addr_str(key, key->dst_addr, ports, dst, sizeof dst);
    if (ports) {
        snprintf(buf, len, "%s %s:%u -> %s:%u", name, src,
                 (unsigned) key->src_port, dst, (unsigned) key->dst_port);
    } else if (icmp && key->src_port) {
        snprintf(buf, len, "%s %s -> %s id %u", name, src, dst,
                 (unsigned) key->src_port);
    } else {
        snprintf(buf, len, "%s %s -> %s", name, src, dst);
    }
    return buf;
}
