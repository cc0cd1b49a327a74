// Package playertest plays streams through streamgate with stock players
// nobody here wrote: hls.js, Shaka Player and dash.js in Debian's chromium
// (pinned by package.json and package-lock.json, installed by .ci/deps), and
// ffmpeg as a client. The tests are black-box: they build the streamgate
// binary, start it on loopback ports and assert what a person would see.
package playertest
