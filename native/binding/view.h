// Page views: external ArrayBuffers over part of a mapping (a file mapping's pages), each
// its own ArrayBuffer so it can be revoked by itself and never exposes the window around
// it through `.buffer`. Read-only views and the zero page are PROT_READ memory: a store
// through one raises SIGSEGV (the one deliberate crash, see docs/SEMANTICS.md).
#pragma once
#include <node_api.h>

#include "mapping.h"

namespace daxfs {

struct ViewRecord {
  MappingState *state = nullptr;   // holds a ref until revoked; null for the zero page
  napi_ref buffer = nullptr;       // weak: the one napi_wrap returned (finalize_view deletes it)
  bool readOnly = false;           // PROT_READ memory: native code must not store into it either
  bool unpinnable = false;         // get_user_pages fails on it (a DAX page, linux-4.0 profile: lib/mm/gup)
};

// The record of a page view (or the zero page) behind `arraybuffer`; null for any other.
ViewRecord *view_of(napi_env env, napi_value arraybuffer);

// handle.pageView(offset, length, readOnly, unpinnable?): a view of [offset, offset+length), page aligned.
napi_value page_view_fn(napi_env env, napi_callback_info info);
// viewUnpinnable(arrayBuffer): true for a page view made unpinnable; false for anything else.
napi_value view_unpinnable_binding(napi_env env, napi_callback_info info);
// revokeView(arrayBuffer): detaches a page view; false when it is not one.
napi_value revoke_view_binding(napi_env env, napi_callback_info info);
// zeroPageView(unpinnable?): a fresh read-only view of the process's one zero page.
napi_value zero_page_view_binding(napi_env env, napi_callback_info info);

// Detaches every page view of s (close, worker exit) and drops their refs.
void revoke_all_views(napi_env env, MappingState *s);

}  // namespace daxfs
