"""Lip-sync data: phoneme timelines -> visemes (Oculus 15, Azure 22, Rhubarb), ARKit blendshape curves, words.

Entry point: :func:`gateway.lipsync.build.build_lipsync` (whole utterance or one part of it) and
:class:`gateway.lipsync.build.LipSyncStream` (one push per streamed segment). Stages: ``phonemes``
(normalize engine IPA; ``build_track`` = the shared timing rules), ``oculus`` / ``azure`` / ``rhubarb``
(one file per viseme vocabulary), ``arkit`` (poses) + ``curves`` (coarticulated sampling), ``estimate``
(rough timeline from text alone), ``words`` (word timings). See ``docs/lipsync.md``.
"""
