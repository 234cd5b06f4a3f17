// The stdlib modules the shim (and most cells) import, loaded into the snapshot.
export const PRELOAD =
  "import ast, base64, builtins, json, linecache, os, sys, time, traceback, types\n" +
  "import subprocess, socket, urllib.request, asyncio\n";
