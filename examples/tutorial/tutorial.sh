#!/usr/bin/env bash
# The custom-container code interpreter tutorial (TUTORIAL.md beside this file),
# steps 5-8, run verbatim against a local pool instead of Azure:
#
#   bash examples/tutorial/tutorial.sh
#       starts `remote-kernel serve` for the run (needs the sessions extra:
#       pip install 'aca-remote-kernel[sessions]', for Pillow)
#   SESSION_POOL_MANAGEMENT_ENDPOINT=http://127.0.0.1:PORT JWT_ACCESS_TOKEN=TOKEN \
#       bash examples/tutorial/tutorial.sh
#       uses a pool you started (remote-kernel serve, with ACA_POOL_TOKEN=TOKEN)
#
# Files land in the current directory, as in the tutorial (sample.jpg,
# cropped_sample.jpg). Two things differ from Azure, both outside the curl
# commands, which are the tutorial's own, character for character:
# - the endpoint and the token come from the local pool, not from `az`;
# - sample.jpg is drawn locally (make_sample.py) instead of downloaded, so the
#   run needs no network.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
REMOTE_KERNEL="${REMOTE_KERNEL:-remote-kernel}"

if [ -z "${SESSION_POOL_MANAGEMENT_ENDPOINT:-}" ]; then
    # Step 5's `az` lines, replaced: our own pool and its token.
    JWT_ACCESS_TOKEN="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')"
    serve_log="$(mktemp)"
    ACA_POOL_TOKEN="$JWT_ACCESS_TOKEN" "$REMOTE_KERNEL" serve >"$serve_log" 2>&1 &
    serve_pid=$!
    trap 'kill -INT "$serve_pid" 2>/dev/null; wait "$serve_pid" || true; rm -f "$serve_log"' EXIT
    for _ in $(seq 600); do
        SESSION_POOL_MANAGEMENT_ENDPOINT="$(sed -n 's/^Pool endpoint: //p' "$serve_log")"
        [ -n "$SESSION_POOL_MANAGEMENT_ENDPOINT" ] && break
        kill -0 "$serve_pid" 2>/dev/null || { cat "$serve_log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$SESSION_POOL_MANAGEMENT_ENDPOINT" ] || { echo "the pool did not start" >&2; exit 1; }
fi
: "${JWT_ACCESS_TOKEN:?set JWT_ACCESS_TOKEN to the token of the pool (its ACA_POOL_TOKEN)}"
AUTH_HEADER="Authorization: Bearer $JWT_ACCESS_TOKEN"

echo "== 5. Test the setup with a sample code execution"
curl -v -X 'POST' -H "$AUTH_HEADER" "$SESSION_POOL_MANAGEMENT_ENDPOINT/executions?api-version=2024-10-02-preview&identifier=test" -H 'Content-Type: application/json' -d '
{
    "code": "print(\"hello world\")"
}'
echo

echo "== 6. Upload a sample image to the session (drawn locally, not downloaded)"
"$PYTHON" "$here/make_sample.py" sample.jpg
curl -X POST -H "$AUTH_HEADER" -F file=@sample.jpg "$SESSION_POOL_MANAGEMENT_ENDPOINT/files?api-version=2024-10-02-preview&identifier=session-test"
echo

echo "== 7. Crop the uploaded image using the session code execution API"
curl -v -X POST -H "$AUTH_HEADER" "$SESSION_POOL_MANAGEMENT_ENDPOINT/executions?api-version=2024-10-02-preview&identifier=session-test" -H 'Content-Type: application/json' -d '
{
    "code": "from PIL import Image\nImage.open(\"/mnt/data/sample.jpg\").crop((100, 100, 400, 400)).save(\"/mnt/data/cropped_sample.jpg\")",
    "executionType": "Synchronous"
}'
echo

echo "== 8. Download the cropped file using the session file download API"
curl -X GET -H "$AUTH_HEADER" "$SESSION_POOL_MANAGEMENT_ENDPOINT/files/cropped_sample.jpg?api-version=2024-10-02-preview&identifier=session-test" 
echo
curl -X GET -H "$AUTH_HEADER" "$SESSION_POOL_MANAGEMENT_ENDPOINT/files/cropped_sample.jpg/content?api-version=2024-10-02-preview&identifier=session-test" -o cropped_sample.jpg
echo "cropped_sample.jpg: $(wc -c < cropped_sample.jpg) bytes"
