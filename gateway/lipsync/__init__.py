"""Lip-sync data: phoneme timelines -> visemes (Oculus 15, Azure 22), ARKit blendshape curves, words."""
