"""Write the two files pulumi-resource-kubernetes embeds, which its release process generates.

Usage: provider_embeds.py <dir of cmd/pulumi-resource-kubernetes> <version>
schema-embed.json is schema.json with `version` set, written compactly; terraform-mapping-embed.json
is terraform-mapping.json minified.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(directory: Path, version: str) -> None:
    schema = json.loads((directory / "schema.json").read_text())
    schema["version"] = version
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    (directory / "schema-embed.json").write_text(json.dumps(schema, **compact))
    mapping = json.loads((directory / "terraform-mapping.json").read_text())
    (directory / "terraform-mapping-embed.json").write_text(json.dumps(mapping, **compact))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
