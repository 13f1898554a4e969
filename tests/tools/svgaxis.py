"""svgaxis.py - read values back from a `heaptape plot` SVG: the byte
ticks of its first panel give the y -> bytes mapping of its lines."""
import re
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def load(path):
    """The SVG's root and a function from a y coordinate of the first
    panel to bytes."""
    root = ET.parse(path).getroot()
    ticks = []
    for t in root.iter(NS + "text"):
        m = re.fullmatch(r"([0-9.]+) ([KMG]i)?B", "".join(t.itertext()))
        if m and float(t.get("y")) < 400:
            k = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}.get(m.group(2), 1)
            ticks.append((float(m.group(1)) * k, float(t.get("y")) - 4))
    ticks.sort()
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    return root, lambda y: v0 + (y0 - y) * (v1 - v0) / (y0 - y1), v1


def lines(root):
    return list(root.iter(NS + "polyline"))


def ys(line):
    return [float(p.split(",")[1]) for p in line.get("points").split()]
