"""Minimal Glance v2 (image list/show) so that clients which always build an
image client (OpenStackClient's `server list`) work.  infrafs does not need
it; it only holds the three images the generated servers boot from.
"""

import urllib.parse

from .base import ApiError, Reply, Service
from .fleet import IMAGE_NAMES, IMAGES, iso_z_naive_epoch
from .identity import TITLES


class Image(Service):
    prefix = "/image"
    name = "image"

    def __init__(self, cloud):
        super().__init__(cloud)
        a = self.add
        a("GET", "", "image.versions", self.versions, auth=False)
        a("GET", "/", "image.versions", self.versions, auth=False)
        a("GET", "/v2/images", "image.images", self.images)
        a("GET", "/v2/images/{id}", "image.image", self.image)

    def error_body(self, status, message, req=None):
        # real glance sends webob error pages; a small JSON object is enough
        # for this helper service.
        return {"code": status, "title": TITLES.get(status, "Error"), "message": message}

    def versions(self, req):
        href = req.base_url + "/image/v2/"
        return Reply(300, {"versions": [{"id": "v2.9", "status": "CURRENT",
                                         "links": [{"rel": "self", "href": href}]}]})

    def _view(self, idx):
        iid, name = IMAGES[idx], IMAGE_NAMES[idx]
        created = iso_z_naive_epoch(idx)
        return {"id": iid, "name": name, "status": "active", "visibility": "public",
                "protected": False, "container_format": "bare", "disk_format": "qcow2",
                "size": 2361393152 + idx * 1048576, "virtual_size": 10737418240,
                "min_disk": 20, "min_ram": 0, "checksum": None, "os_hash_algo": "sha512",
                "os_hash_value": None, "os_hidden": False,
                "owner": self.cloud.fleet.project_by_name["admin"]["id"],
                "created_at": created, "updated_at": created, "tags": [],
                "self": "/v2/images/" + iid, "file": "/v2/images/%s/file" % iid,
                "schema": "/v2/schemas/image"}

    def images(self, req):
        items = [self._view(i) for i in range(len(IMAGES))]
        marker = req.arg("marker")
        if marker is not None:
            ids = [i["id"] for i in items]
            if marker not in ids:
                raise ApiError(400, "marker %s not found" % marker)
            items = items[ids.index(marker) + 1:]
        if req.arg("name") is not None:
            items = [i for i in items if i["name"] == req.arg("name")]
        body = {"images": items, "schema": "/v2/schemas/images", "first": "/v2/images"}
        if req.arg("limit") is not None:
            try:
                limit = max(0, int(req.arg("limit")))
            except ValueError:
                raise ApiError(400, "limit param must be an integer") from None
            body["images"] = items[:limit]
            if limit and len(items) > limit:
                q = [(k, v) for k, v in req.query_pairs if k != "marker"]
                q.append(("marker", items[limit - 1]["id"]))
                body["next"] = "/v2/images?" + urllib.parse.urlencode(q)
        return Reply(200, body)

    def image(self, req):
        if req.params["id"] not in IMAGES:
            raise ApiError(404, "No image found with ID %s" % req.params["id"])
        return Reply(200, self._view(IMAGES.index(req.params["id"])))
