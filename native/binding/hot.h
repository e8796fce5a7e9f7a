// The hot calls' per-environment registry. persist, flush, drain and the copies are one
// native function per operation for the whole environment, not one per mapping: a JS call
// site that has only ever seen one target is called directly by V8's optimizing compiler,
// and one that has seen several (two mappings, or two copiers) went through the generic
// call path, 75-130 ns more per call here. The mapping is named by a token JS writes into
// a Float64Array shared with this code, beside the offsets.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <vector>

namespace daxfs {

struct MappingState;

// The shared args: [token, offset, length, sourceOffset].
constexpr int kHotArgs = 4;

struct HotTable {
  double *args = nullptr;
  std::vector<MappingState *> slots;   // null: free
  std::vector<uint32_t> generations;   // bumped when a slot is freed: a stale token misses
  std::vector<uint32_t> freeSlots;
  int refs = 1;   // the environment's, plus one per registered mapping (main thread only)
};

// The environment's table (made at load, with its args ArrayBuffer).
HotTable *hot_table(napi_env env);
// Registers a new mapping; returns its token (a safe integer).
double hot_register(HotTable *t, MappingState *s);
// Forgets a mapping whose state is going away (drops its ref on the table).
void hot_unregister(MappingState *s);
// Drops the environment's ref on the table.
void hot_release(HotTable *t);
// The live mapping a token names, or null.
MappingState *hot_lookup(const HotTable *t, uint64_t token);

}  // namespace daxfs
