#include "hot.h"

#include "addon.h"
#include "mapping.h"

namespace daxfs {

// token = generation * 2^24 + slot: 16M live mappings per environment, and a slot's
// generation wraps after 2^28 reuses, which keeps every token below 2^52.
constexpr uint64_t kSlotBits = 24;
constexpr uint64_t kSlotMask = (1ull << kSlotBits) - 1;
constexpr uint32_t kGenerationMask = (1u << 28) - 1;

HotTable *hot_table(napi_env env) {
  AddonData *a = addon_data(env);
  return a ? a->hot : nullptr;
}

double hot_register(HotTable *t, MappingState *s) {
  uint32_t slot;
  if (!t->freeSlots.empty()) {
    slot = t->freeSlots.back();
    t->freeSlots.pop_back();
  } else {
    slot = static_cast<uint32_t>(t->slots.size());
    t->slots.push_back(nullptr);
    t->generations.push_back(0);
  }
  t->slots[slot] = s;
  t->refs++;
  s->hot = t;
  s->hotSlot = slot;
  return static_cast<double>((static_cast<uint64_t>(t->generations[slot]) << kSlotBits) | slot);
}

void hot_release(HotTable *t) {
  if (--t->refs == 0) delete t;
}

void hot_unregister(MappingState *s) {
  HotTable *t = s->hot;
  if (!t) return;
  s->hot = nullptr;
  t->slots[s->hotSlot] = nullptr;
  t->generations[s->hotSlot] = (t->generations[s->hotSlot] + 1) & kGenerationMask;
  t->freeSlots.push_back(s->hotSlot);
  hot_release(t);
}

MappingState *hot_lookup(const HotTable *t, uint64_t token) {
  const uint64_t slot = token & kSlotMask;
  if (slot >= t->slots.size() || (token >> kSlotBits) != t->generations[slot]) return nullptr;
  return t->slots[slot];
}

}  // namespace daxfs
