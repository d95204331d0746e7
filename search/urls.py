from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search.api import datasets as datasets_api
from search.api import duplicates as duplicates_api
from search.api import explain as explain_api
from search.api import labels as labels_api
from search.api import model_changes as model_changes_api
from search.api import search as api
from search.pages import duplicates as duplicate_views
from search.pages import search as views

app_name = "search"

api_patterns = [
    path("api/search/text", api.SearchTextView.as_view(), name="api-search-text"),
    path("api/search_text", api.SearchTextCompatView.as_view(), name="api-search-text-compat"),
    path("api/search/image", api.SearchImageView.as_view(), name="api-search-image"),
    path("api/search/photos", api.SearchPhotosView.as_view(), name="api-search-photos"),
    path("api/crops/<int:crop_id>", api.CropView.as_view(), name="api-crop"),
    path("api/crops/<int:crop_id>/similar", api.SimilarView.as_view(), name="api-crop-similar"),
    path("api/crops/<int:crop_id>/why", explain_api.WhyView.as_view(), name="api-crop-why"),
    path("api/labels", labels_api.LabelListView.as_view(), name="api-labels"),
    path("api/datasets", datasets_api.DatasetListView.as_view(), name="api-datasets"),
    path("api/model-changes", model_changes_api.ModelChangeListView.as_view(), name="api-model-changes"),
    path("api/datasets/<int:dataset_id>", datasets_api.DatasetView.as_view(), name="api-dataset"),
    path("api/datasets/<int:dataset_id>/index", datasets_api.DatasetIndexView.as_view(), name="api-dataset-index"),
    path("api/index", datasets_api.IndexView.as_view(), name="api-index"),
    path("api/index/rebuild", datasets_api.IndexRebuildView.as_view(), name="api-index-rebuild"),
    path("api/datasets/<int:dataset_id>/retry", datasets_api.DatasetRetryView.as_view(), name="api-dataset-retry"),
    path("api/jobs/<int:job_id>", datasets_api.JobView.as_view(), name="api-job"),
    path("api/jobs/<int:job_id>/resume", datasets_api.JobResumeView.as_view(), name="api-job-resume"),
    path("api/crops/<int:crop_id>/same-object", duplicates_api.SameObjectView.as_view(), name="api-crop-same-object"),
    path("api/duplicates/groups", duplicates_api.GroupListView.as_view(), name="api-duplicate-groups"),
    path("api/duplicates/groups/<int:group_id>", duplicates_api.GroupView.as_view(), name="api-duplicate-group"),
    path("api/duplicates/groups/<int:group_id>/keep", duplicates_api.KeepView.as_view(), name="api-duplicate-keep"),
    path(
        "api/duplicates/groups/<int:group_id>/not-duplicates",
        duplicates_api.NotDuplicatesView.as_view(),
        name="api-duplicate-not-duplicates",
    ),
    path("api/duplicates/resolve", duplicates_api.ResolveView.as_view(), name="api-duplicate-resolve"),
    path(
        "api/datasets/<int:dataset_id>/duplicates/recompute",
        duplicates_api.RecomputeView.as_view(),
        name="api-dataset-duplicates-recompute",
    ),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="search:api-schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="search:api-schema"), name="api-redoc"),
]

page_patterns = [
    path("", views.home, name="home"),
    path("search", views.results, name="results"),
    path("crops/<int:crop_id>", views.crop_detail, name="crop"),
    path("datasets", views.datasets, name="datasets"),
    path("datasets/<int:dataset_id>/delete", views.delete_dataset, name="dataset-delete"),
    path("datasets/<int:dataset_id>/retry", views.retry_failed, name="dataset-retry"),
    path("duplicates", duplicate_views.review, name="duplicates"),
    path("duplicates/resolve", duplicate_views.resolve_many, name="duplicates-resolve"),
    path("duplicates/<int:group_id>/keep", duplicate_views.keep, name="duplicates-keep"),
    path("duplicates/<int:group_id>/not-duplicates", duplicate_views.not_duplicates, name="duplicates-not-duplicates"),
]

urlpatterns = page_patterns + api_patterns
