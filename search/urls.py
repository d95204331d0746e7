from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search import api, views

app_name = "search"

api_patterns = [
    path("api/search/text", api.SearchTextView.as_view(), name="api-search-text"),
    path("api/search_text", api.SearchTextCompatView.as_view(), name="api-search-text-compat"),
    path("api/search/image", api.SearchImageView.as_view(), name="api-search-image"),
    path("api/search/photos", api.SearchPhotosView.as_view(), name="api-search-photos"),
    path("api/crops/<int:crop_id>", api.CropView.as_view(), name="api-crop"),
    path("api/crops/<int:crop_id>/similar", api.SimilarView.as_view(), name="api-crop-similar"),
    path("api/datasets", api.DatasetListView.as_view(), name="api-datasets"),
    path("api/datasets/<int:dataset_id>/index", api.DatasetIndexView.as_view(), name="api-dataset-index"),
    path("api/jobs/<int:job_id>", api.JobView.as_view(), name="api-job"),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="search:api-schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="search:api-schema"), name="api-redoc"),
]

page_patterns = [
    path("", views.home, name="home"),
    path("search", views.results, name="results"),
    path("crops/<int:crop_id>", views.crop_detail, name="crop"),
    path("datasets", views.datasets, name="datasets"),
]

urlpatterns = page_patterns + api_patterns
