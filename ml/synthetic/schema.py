"""JSON Schema of manifest.json (schema_version 1)."""

_box = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_level = {
    "type": "object",
    "required": [
        "level",
        "grade",
        "binary",
        "mechanism",
        "mechanisms",
        "canal_ap_mm",
        "bony_canal_ap_mm",
        "torg_pavlov",
        "occupying_ratio",
        "cord_signal_change",
        "severity",
        "disc_z_mm",
        "disc_slice_index",
        "disc_instance_number",
        "roi_sagittal",
        "roi_axial",
        "mr_axial_instance",
        "mr_sagittal_point",
        "reader_grades",
    ],
    "properties": {
        "level": {"enum": ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]},
        "grade": {"type": "integer", "minimum": 0, "maximum": 3},
        "binary": {"enum": [0, 1]},
        "mechanism": {"enum": ["none", "disc_osteophyte", "ligamentum_flavum", "opll", "developmental"]},
        "mechanisms": {"type": "array", "items": {"type": "string"}},
        "canal_ap_mm": {"type": "number"},
        "torg_pavlov": {"type": "number", "exclusiveMinimum": 0},
        "disc_slice_index": {"type": "integer", "minimum": 0},
        "roi_sagittal": _box,
        "roi_axial": _box,
        "reader_grades": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 3},
        },
    },
}
_scanner = {"type": "object", "required": ["manufacturer", "model"]}
MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "seed", "scanner_profile", "levels", "reformat", "readers", "patients"],
    "properties": {
        "schema_version": {"const": 1},
        "seed": {"type": "integer"},
        "levels": {"const": ["C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1"]},
        "patients": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["patient_id", "folder", "age", "sex", "ct", "mr", "levels"],
                "properties": {
                    "ct": {
                        "type": "object",
                        "required": ["study_uid", "series_uid", "study_date", "path", "n_slices", "scanner"],
                        "properties": {
                            "scanner": {
                                **_scanner,
                                "required": [
                                    "manufacturer",
                                    "model",
                                    "pixel_spacing_mm",
                                    "slice_thickness_mm",
                                    "noise_hu",
                                    "kernel",
                                ],
                            },
                        },
                    },
                    "mr": {
                        "type": "object",
                        "required": [
                            "study_uid",
                            "study_date",
                            "sagittal_series_uid",
                            "axial_series_uid",
                            "scanner",
                        ],
                        "properties": {"scanner": _scanner},
                    },
                    "levels": {"type": "array", "items": _level, "minItems": 6, "maxItems": 6},
                },
            },
        },
    },
}
