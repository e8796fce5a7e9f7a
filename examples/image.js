// The image the examples run on: by default a fresh emulated pmem image (a sparse file in a
// temporary folder, removed at the end); `node examples/x.js IMAGE` uses IMAGE instead (an
// image file, made and formatted if missing, or a device-DAX node already formatted by
// `daxfs mkfs`), and keeps it.
'use strict';

// Emulated pmem runs the same flushes and fences as real pmem (instead of msync). The switch
// is read once when the addon loads, so it is set before daxfs is required.
if (process.env.DAXFS_FORCE_PMEM === undefined) process.env.DAXFS_FORCE_PMEM = '1';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { devices, mkfs, mount } = require('..');   // the package: its package.json "main"

const SIZE = 16 * 1024 * 1024;

function prepareImage(arg) {
  const temp = arg === undefined;
  const dir = temp ? fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-example-')) : null;
  const image = temp ? path.join(dir, 'example.img') : path.resolve(arg);
  if (!fs.existsSync(image)) {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, SIZE);   // sparse: nothing is written until the filesystem is
    const dev = devices.pmem(image);
    try { mkfs(dev, { label: 'example' }); } finally { dev.close(); }
  }
  return { image, cleanup: () => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** Mounts the image with DAX, runs fn(filesystem), unmounts: each call is a fresh mount. */
function withMount(image, fn) {
  const dev = devices.pmem(image);
  try {
    const filesystem = mount(dev, 'dax');
    try {
      return fn(filesystem);
    } finally {
      filesystem.unmount();
    }
  } finally {
    dev.close();
  }
}

module.exports = { prepareImage, withMount };
