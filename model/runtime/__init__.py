"""What serving imports: the normaliser, the classifier and the int8 (ONNX Runtime) session.

Kept apart from the offline pipeline beside it in `model/` (data build, training, calibration,
evaluation, the int8 export) so that the API, the job workers and the wheel carry only this and the
artifact. The int8 path imports neither torch nor transformers' torch parts; fp32 imports torch when
it loads.
"""
