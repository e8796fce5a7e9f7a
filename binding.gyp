{
  "variables": {
    "core_sources": [
      "native/core/cpu.cpp",
      "native/core/persist.cpp",
      "native/core/persist_x86_64.cpp",
      "native/core/persist_aarch64.cpp",
      "native/core/map.cpp",
      "native/core/sysfs.cpp",
      "native/core/lock.cpp"
    ],
    "common_cflags": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions", "-fvisibility=hidden"]
  },
  "targets": [
    {
      "target_name": "daxfs",
      "sources": [
        "<@(core_sources)",
        "native/binding/addon.cc",
        "native/binding/async_copy.cc",
        "native/binding/errors.cc",
        "native/binding/hot.cc",
        "native/binding/lock.cc",
        "native/binding/mapping.cc",
        "native/binding/view.cc"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++14", "-fno-rtti"],
      "cflags_cc": ["<@(common_cflags)"],
      "ldflags": ["-static-libgcc"]
    }
  ]
}

