import json
from pathlib import Path

from serve.api import shipped_document

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_openapi_matches_the_schemas_the_server_validates_with():
    shipped = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert shipped == shipped_document(), "docs/openapi.json is stale: run `make openapi`"


def test_document_describes_every_route_and_the_blazingtext_shapes():
    document = shipped_document()
    assert set(document["paths"]) == {"/ping", "/invocations", "/execution-parameters"}
    body = document["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    configurations = body["properties"]["configuration"]["anyOf"]
    classification, embeddings, entities = configurations
    assert body["required"] == ["instances"] and classification["properties"]["k"]["minimum"] == 1
    assert embeddings["properties"]["output"]["enum"] == ["vector", "sentence_vector", "neighbours", "similarity"]
    assert entities["properties"]["relatedness"]["enum"] == ["milne_witten", "embedding", "average"]
    responses = document["paths"]["/invocations"]["post"]["responses"]
    assert {"200", "400", "406", "413", "415", "503"} <= set(responses)
