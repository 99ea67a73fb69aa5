/**
 * The mempools' telemetry commands, with DPDK 22.11's names and reply shapes (lib/mempool
 * rte_mempool.c, checked against dpdk-testpmd's replies): /mempool/list and
 * /mempool/info,NAME, plus the two counts DPDK added in 23.03 (total_cache_count,
 * common_pool_count). As in DPDK, an unknown pool name is an empty dictionary and a
 * missing name a null reply. Read-only: the pools' own views (Mempool.list, describe).
 *
 * The fields DPDK takes from things mpdk has not: socket 0, ops_index 0, populated_size =
 * size (pools are populated when made), header_size = the bytes of each element's stride
 * besides its object, trailer_size 0, pool_id the pool header's offset in the region.
 */
import { describeKind } from '../eal/describe.js';
import type { Eal } from '../eal/eal.js';
import { registerTelemetryCommand } from '../eal/telemetry.js';
import { MEMZONE_NAMESIZE } from '../eal/memzone.js';
import { Mempool } from '../mempool/mempool.js';
import type { TelValue } from '../eal/telemetry-json.js';

const MZ_PREFIX = 'MP_';
const PAGE = 4096;
const HUGE_PAGE = 2 * 1024 * 1024;

registerTelemetryCommand('/mempool/list', (_c, _p, eal) => Mempool.list(eal).map((mp) => mp.name), 'Returns list of available mempool. Takes no parameters');

registerTelemetryCommand('/mempool/info', (_c, params, eal: Eal): TelValue | undefined => {
  if (params === undefined) return undefined;
  const name = params.slice(0, MEMZONE_NAMESIZE); // DPDK copies at most a memzone name's length
  const mp = Mempool.list(eal).find((m) => m.name === name);
  if (!mp) return {};
  const d = describeKind(eal, 'mempool').find((x) => x.name === name);
  const mz = eal.memzones.list().find((z) => z.name === MZ_PREFIX + name);
  return {
    name: mp.name, pool_id: mp.header, flags: mp.flags, socket_id: 0, size: mp.size, cache_size: mp.cacheSize, elt_size: mp.eltSize,
    header_size: mp.stride - mp.eltSize, trailer_size: 0, private_data_size: mp.privateSize, ops_index: 0, populated_size: mp.size,
    mz_name: MZ_PREFIX + name, mz_len: mz?.length ?? 0, mz_hugepage_sz: eal.options.hugeDir ? HUGE_PAGE : PAGE, mz_socket_id: 0, mz_flags: 0,
    total_cache_count: Number(d?.inCaches ?? 0), common_pool_count: Number(d?.inRing ?? 0),
  };
}, 'Returns mempool info. Parameters: pool_name');
